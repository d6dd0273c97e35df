"""A family from outside prmgym works in every command, with no patching of prmgym.

Each test writes a tiny plugin package into ``tmp_path`` (a ``TextEnv`` without ``split``, a
``Family`` with an oracle and a verifier but no wrong-action generator, a ``Policy`` and a PRM)
and drives it through the command line.
"""

import json
import os
import subprocess
import sys

import gymnasium
import pytest
import yaml
from typer.testing import CliRunner

import prmgym.family as family_module
import prmgym.plugins as plugins
import prmgym.registry as registry_module
from prmgym.cli import app
from prmgym.errors import ConfigError
from prmgym.registry import make_env

runner = CliRunner()

PLUGIN = '''
"""A one-tool family: say the task's word."""

from prmgym.envs.actions import ActionError
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.family import Family, FamilyEnv, register_family
from prmgym.task import Task
from prmgym.trajectory import StepScore

TOOLS = 'Tools: say("word")'
WORDS = ("apple", "pear", "plum")


class TinyEnv(TextEnv):
    """No ``split`` argument and no ``family`` attribute: the registration gives it."""

    def __init__(self, words=WORDS):
        super().__init__(
            [Task(id=w, family="tiny", instruction=f"say {w}", privileged={"word": w})
             for w in words]
        )

    def task_prompt(self, task):
        return f"{task.instruction}\\n{TOOLS}"

    def tools(self):
        return TOOLS

    def execute(self, call):
        if call.name != "say" or len(call.args) != 1:
            raise ActionError("unknown tool; " + TOOLS)
        right = call.args[0] == self.task.privileged["word"]
        return ToolResult("yes" if right else "no", float(right), True, {"success": right})


def oracle(task, observations, actions):
    return f'say("{task.privileged["word"]}")'


def random_action(task, observations, rng):
    return f'say("{rng.choice(WORDS)}")'


class Verifier:
    """1 for the right word, 0 otherwise."""

    name = "tiny-verifier"

    def score(self, trajectory, env=None):
        return [self._one(trajectory.task, s.action) for s in trajectory.steps]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [self._one(trajectory.task, a) for a in candidate_actions]

    def _one(self, task, action):
        right = action == oracle(task, (), ())
        return StepScore(value=float(right), label="ok" if right else "fatal", source=self.name)


class HalfPRM(Verifier):
    name = "half"

    def _one(self, task, action):
        return StepScore(value=0.5, source=self.name)


class SayPearPolicy:
    def act(self, episodes):
        from prmgym.agents.policies import Decision

        return [Decision(action='say("pear")') for _ in episodes]


FAMILY = register_family(
    Family(
        name="tiny",
        envs=(
            FamilyEnv(
                id="tiny/Tiny-v0",
                entry_point="tinyplug:TinyEnv",
                task_source="3 words",
                max_episode_steps=4,
            ),
        ),
        prompt="prmgym.agents.prompts.search:PROMPT",
        tool_help="tinyplug:TOOLS",
        default_prms=("tiny-verifier",),
        oracle="tinyplug:oracle",
        random_action="tinyplug:random_action",
        verifier="tinyplug:Verifier",
    )
)
'''


@pytest.fixture
def plugin(monkeypatch, tmp_path):
    """``tinyplug`` importable from ``tmp_path``; what it registers vanishes after the test."""
    (tmp_path / "tinyplug.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugins.ENV_VAR, raising=False)
    forget(monkeypatch)
    before = set(gymnasium.registry)
    yield tmp_path
    for env_id in set(gymnasium.registry) - before:
        del gymnasium.registry[env_id]
    sys.modules.pop("tinyplug", None)


def forget(monkeypatch):
    """As a new process: nothing of the plugin imported or registered."""
    monkeypatch.setattr(family_module, "_FAMILIES", dict(family_module._FAMILIES))
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    monkeypatch.setattr(plugins, "_modules", {})
    monkeypatch.setattr(plugins, "_plugins", {})
    for name in ("tiny", "chatty"):
        family_module._FAMILIES.pop(name, None)
    registry_module._REGISTRY.pop("tiny/Tiny-v0", None)
    gymnasium.registry.pop("tiny/Tiny-v0", None)
    sys.modules.pop("tinyplug", None)


def invoke(*args, env=None):
    return runner.invoke(app, list(args), env=env)


def run_eval(tmp_path, *args, name="t"):
    result = invoke(*args, "--runs-dir", str(tmp_path / "runs"), "--name", name)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / name
    return (
        json.loads((run / "metrics.json").read_text())["agents"],
        yaml.safe_load((run / "config.yaml").read_text()),
    )


def test_envs_lists_a_plugin_env_with_import(plugin):
    result = invoke("--import", "tinyplug", "envs")
    assert result.exit_code == 0, result.output
    assert "tiny/Tiny-v0" in result.output and "test 3" in result.output
    assert "tiny-verifier" in result.output


def test_without_the_import_the_id_is_unknown_and_the_message_says_how(plugin):
    result = invoke("run", "--env", "tiny/Tiny-v0")
    assert result.exit_code == 2
    assert "unknown env id 'tiny/Tiny-v0'" in result.output and "--import" in result.output


def test_eval_with_import_runs_the_familys_oracle_random_and_records_the_import(plugin):
    agents, config = run_eval(
        plugin, "--import", "tinyplug", "eval", "--env", "tiny/Tiny-v0", "-a", "oracle,random"
    )
    assert agents["oracle"]["success_rate"] == 1.0 and agents["oracle"]["episodes"] == 3
    assert agents["oracle"]["mean_prm"] == {"tiny-verifier": 1.0}
    assert agents["random"]["action_error_rate"] == 0  # random calls the family's own tool
    assert config["imports"] == {"plugins": [], "modules": ["tinyplug"]}


def test_eval_takes_the_env_var_and_a_module_id_with_search_and_own_pieces(plugin, monkeypatch):
    monkeypatch.setenv(plugins.ENV_VAR, f"tinyplug{os.pathsep}json")
    agents, config = run_eval(
        plugin,
        "eval",
        "--env",
        "tiny/Tiny-v0",
        "--agent",
        "tinyplug:SayPearPolicy",
        "--prm",
        "verifier,tinyplug:HalfPRM",
    )
    assert agents["tinyplug:SayPearPolicy"]["success_rate"] == pytest.approx(1 / 3)
    assert set(agents["tinyplug:SayPearPolicy"]["mean_prm"]) == {"tiny-verifier", "half"}
    assert config["imports"]["modules"] == ["tinyplug", "json"]
    forget(monkeypatch)
    monkeypatch.delenv(plugins.ENV_VAR)
    agents, config = run_eval(
        plugin,
        "eval",
        "--env",
        "tinyplug:tiny/Tiny-v0",
        "--agent",
        "oracle",
        "--search",
        "none",
        "--search",
        "bon:n=2",
        "--search",
        "prune:k=2",
        name="bon",
    )
    assert agents["oracle + bon:n=2"]["success_rate"] == 1.0
    assert agents["oracle + prune:k=2"]["success_rate"] == 1.0
    assert config["imports"]["modules"] == ["tinyplug"]


def test_run_with_a_module_id_scores_each_step(plugin):
    result = invoke("run", "--env", "tinyplug:tiny/Tiny-v0", "--agent", "oracle")
    assert result.exit_code == 0, result.output
    assert "PRM 1.00 ok" in result.output and "reward 1.00" in result.output


def test_resume_imports_what_the_run_recorded(plugin, monkeypatch):
    run_eval(plugin, "--import", "tinyplug", "eval", "--env", "tiny/Tiny-v0", "-a", "oracle")
    forget(monkeypatch)  # a new process, started without --import
    agents, _ = run_eval(plugin, "eval", "--env", "tiny/Tiny-v0", "-a", "oracle", "--resume")
    assert agents["oracle"]["success_rate"] == 1.0


def test_a_piece_the_family_lacks_is_refused_before_any_episode(plugin):
    runs = plugin / "runs"
    for agent, piece in (("noisy-oracle:0.5", "wrong_action"), ("noisy-oracle", "wrong_action")):
        args = ("eval", "--env", "tiny/Tiny-v0", "-a", agent, "--runs-dir", str(runs))
        result = invoke("--import", "tinyplug", *args)
        assert result.exit_code == 2, result.output
        assert f"--agent {agent}: family 'tiny' declares no {piece}; add {piece}=" in (
            result.output
        )
    assert not runs.exists()  # refused before a run folder was made
    result = invoke("--import", "tinyplug", "run", "--env", "tiny/Tiny-v0", "-a", "noisy-oracle")
    assert result.exit_code == 2 and "declares no wrong_action" in result.output


def test_own_agent_specs_that_are_not_policies_say_why(plugin):
    for spec, why in (
        ("tinyplug:TOOLS", "not a Policy class"),
        ("tinyplug:Verifier", "no act(episodes) method"),
        ("tinyplug:missing", "has no attribute 'missing'"),
    ):
        result = invoke("--import", "tinyplug", "run", "--env", "tiny/Tiny-v0", "-a", spec)
        assert result.exit_code == 2 and why in result.output, result.output


def test_bad_imports_are_one_line_errors(plugin):
    result = invoke("--import", "no_such_plugin", "envs")
    assert result.exit_code == 2
    assert "--import no_such_plugin: no module named 'no_such_plugin'" in result.output
    assert "PYTHONPATH" in result.output
    (plugin / "crashing.py").write_text("raise RuntimeError('plugin bug')")
    result = invoke("envs", env={plugins.ENV_VAR: "crashing"})
    assert result.exit_code == 2
    assert "PRMGYM_IMPORT crashing: importing it failed: RuntimeError: plugin bug" in (
        result.output
    )
    sys.modules.pop("crashing", None)


def test_an_env_class_contradicting_its_registration_is_refused(plugin, monkeypatch):
    (plugin / "chatty.py").write_text(
        "from prmgym.family import Family, FamilyEnv, register_family\n"
        "from tinyplug import TinyEnv\n"
        "class ChattyEnv(TinyEnv):\n    family = 'search'\n"
        "register_family(Family(name='chatty', prompt='m:a', tool_help='m:b',"
        " envs=(FamilyEnv(id='chatty/Chatty-v0', entry_point='chatty:ChattyEnv',"
        " task_source='t'),)))\n"
    )
    with pytest.raises(ConfigError, match=r"registered under family 'chatty'.*family = 'search'"):
        make_env("chatty:chatty/Chatty-v0", split="test")
    sys.modules.pop("chatty", None)
    # The class that names no family takes its registration's, with or without a split.
    env = make_env("tinyplug:tiny/Tiny-v0", split="train")
    assert env.unwrapped.family == "tiny"
    env.close()


def test_installed_entry_point_plugins_load_and_broken_ones_warn(plugin, monkeypatch):
    dist = plugin / "tinyplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[prmgym.plugins]\ntiny = tinyplug\nbroken = no_such_module_anywhere:register\n"
    )
    result = invoke("run", "--env", "tiny/Tiny-v0", "--agent", "random", "--prm", "verifier")
    assert result.exit_code == 0, result.output
    assert "plugin 'broken'" in result.output and "from tinyplug" in result.output
    assert "reinstall or fix tinyplug, or uninstall it" in result.output
    assert plugins.record()["plugins"] == ["tiny = tinyplug"]


def test_a_new_process_imports_a_plugin_from_the_env_var(plugin):
    env = {**os.environ, "PYTHONPATH": str(plugin), plugins.ENV_VAR: "tinyplug"}
    out = subprocess.run(
        [sys.executable, "-m", "prmgym.cli", "run", "--env", "tiny/Tiny-v0", "--prm", "verifier"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "reward 1.00" in out.stdout


def test_scorers_and_first_error_sets_the_family_lacks_are_refused_up_front(plugin):
    runs = plugin / "runs"
    args = ("eval", "--env", "tiny/Tiny-v0", "-a", "oracle", "--runs-dir", str(runs))
    result = invoke("--import", "tinyplug", *args, "--prm", "rubric")
    assert result.exit_code == 2 and "family 'tiny' declares no rubric; add rubric=" in (
        result.output
    )
    assert not runs.exists()
    result = invoke("--import", "tinyplug", "eval-prm", "--family", "tiny")
    assert result.exit_code == 2
    assert "family 'tiny' declares no perturbations; add perturbations=" in result.output


def test_train_config_takes_a_module_id_or_recorded_imports(plugin, monkeypatch):
    from prmgym.training.config import load_train_config

    load_train_config(None, ["rollout.env_id=tinyplug:tiny/Tiny-v0"])
    assert plugins.record()["modules"] == ["tinyplug"]
    forget(monkeypatch)
    with pytest.raises(ConfigError, match="unknown env id 'tiny/Tiny-v0'"):
        load_train_config(None, ["rollout.env_id=tiny/Tiny-v0"])
    settings = load_train_config(None, ["rollout.env_id=tiny/Tiny-v0", "imports=[tinyplug]"])
    assert settings.imports == ["tinyplug"]
