"""Conformance checks: the built-in search family passes; broken pieces fail; absent ones skip.

Tiny families are declared here, their env and pieces living in this module (entry points name
it by ``__name__``), and registered only for the test that uses them.
"""

import gymnasium
import pytest
from typer.testing import CliRunner

import prmgym.family as family_module
import prmgym.registry as registry_module
from prmgym.agents.conformance import CHECKS, CheckSettings, assert_conformant, run_checks
from prmgym.cli import app
from prmgym.envs.actions import ActionError
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.family import Family, FamilyEnv, register_family
from prmgym.task import Task
from prmgym.trajectory import StepScore

runner = CliRunner()
SMALL = CheckSettings(actions=60, tasks=3, trajectories=1, perturbed=1)
TOOLS = 'Tools: think("note"), say("word")'
WORDS = ("apple", "pear", "plum")


class TinyEnv(TextEnv):
    """Say the task's word; ``think`` is a free step the env always answers alike."""

    def __init__(self, split: str = "test"):
        tasks = [
            Task(id=w, family="tiny", instruction=f"say {w}", privileged={"word": w}) for w in WORDS
        ]
        super().__init__(tasks)

    def task_prompt(self, task):
        return f"{task.instruction}\n{TOOLS}"

    def tools(self):
        return TOOLS

    def execute(self, call):
        if call.name == "think" and len(call.args) == 1:
            return ToolResult("noted")
        if call.name != "say" or len(call.args) != 1 or not isinstance(call.args[0], str):
            raise ActionError(f"use one of the tools; {TOOLS}")
        right = call.args[0] == self.task.privileged["word"]
        return ToolResult("yes" if right else "no", float(right), True, {"success": right})


class BrittleEnv(TinyEnv):
    """Forgets to check its argument's type: ``say(1)`` raises instead of saying what is wrong."""

    def execute(self, call):
        if call.name == "say" and call.args:
            call.args[0].lower()
        return super().execute(call)


def oracle(task, observations, actions):
    word = task.privileged["word"]
    return f'think("{word}")' if not actions else f'say("{word}")'


def wrong_oracle(task, observations, actions):
    return 'say("nothing")'


class Verifier:
    """1 for saying the task's word, else 0.5: causal, deterministic."""

    name = "tiny-verifier"

    def score(self, trajectory, env=None):
        word = trajectory.task.privileged["word"]
        return [
            StepScore(value=1.0 if s.action == f'say("{word}")' else 0.5, source=self.name)
            for s in trajectory.steps
        ]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return [StepScore(value=0.5, source=self.name) for _ in candidate_actions]


class PeekingVerifier(Verifier):
    """Scores each step by the trajectory's length: later steps change earlier scores."""

    def score(self, trajectory, env=None):
        return [
            StepScore(value=1 / len(trajectory.steps), source=self.name) for _ in trajectory.steps
        ]


def perturb(env, task, kind, rng):
    word = task.privileged["word"]
    right = (f'think("{word}")', f'say("{word}")')
    return {
        "none": Perturbation(right, -1, "none"),
        "wrong_word": Perturbation((right[0], 'say("nothing")'), 1, "wrong_word"),
        # Changes step 0 but declares step 1: an earlier step is already wrong.
        "late_label": Perturbation(('think("x")', 'say("nothing")'), 1, "late_label"),
        # A different thought the env answers alike and the task still solved: no error to see.
        "invisible": Perturbation(('think("other")', right[1]), 0, "invisible"),
    }[kind]


PERTURBATIONS = FamilyPerturbations(perturb, ("none", "wrong_word", "late_label", "invisible"))


def family(name, env_class, **pieces):
    return Family(
        name=name,
        prompt="prmgym.agents.prompts.search:PROMPT",
        tool_help=f"{__name__}:TOOLS",
        envs=(
            FamilyEnv(id=f"tiny/{name}-v0", entry_point=f"{__name__}:{env_class}", task_source="t"),
        ),
        **pieces,
    )


@pytest.fixture
def isolated(monkeypatch):
    """Families and env ids registered in a test vanish after it."""
    monkeypatch.setattr(family_module, "_FAMILIES", dict(family_module._FAMILIES))
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    before = set(gymnasium.registry)
    yield
    for env_id in set(gymnasium.registry) - before:
        del gymnasium.registry[env_id]


def statuses(rows):
    return {row.label: row.status for row in rows}


def detail(rows, label):
    return next(row.detail for row in rows if row.label == label)


def test_the_search_family_passes_every_check():
    rows = run_checks("prmgym/SearchQA-v0", SMALL)
    assert {row.check for row in rows} == set(CHECKS)
    assert set(statuses(rows).values()) == {"pass"}, [r for r in rows if r.status != "pass"]
    kinds = {row.subject for row in rows if row.check == "perturbations"}
    assert kinds == {"wrong_args", "wrong_answer", "repeat"}
    assert "reward-model: search-verifier" in statuses(rows)


def test_wrong_first_error_labels_and_a_non_causal_verifier_fail_their_rows(isolated):
    register_family(
        family(
            "tiny",
            "TinyEnv",
            default_prms=("tiny-verifier",),
            oracle=f"{__name__}:oracle",
            verifier=f"{__name__}:PeekingVerifier",
            perturbations=f"{__name__}:PERTURBATIONS",
        )
    )
    rows = run_checks("tiny/tiny-v0", SMALL)
    assert statuses(rows) == {
        "pieces": "pass",
        "env": "pass",
        "fuzz": "pass",
        "reward-model: tiny-verifier": "fail",
        "oracle": "pass",
        "perturbations: wrong_word": "pass",
        "perturbations: late_label": "fail",
        "perturbations: invisible": "fail",
    }
    assert "not causal" in detail(rows, "reward-model: tiny-verifier")
    assert "before the declared first error 1" in detail(rows, "perturbations: late_label")
    assert "exactly as the oracle list" in detail(rows, "perturbations: invisible")
    with pytest.raises(AssertionError, match="fails 3 conformance checks"):
        assert_conformant("tiny/tiny-v0", SMALL)


def test_an_env_that_raises_and_an_oracle_that_fails_give_failing_rows_and_exit_1(isolated):
    register_family(
        family(
            "brittle",
            "BrittleEnv",
            oracle=f"{__name__}:wrong_oracle",
            verifier=f"{__name__}:Verifier",
        )
    )
    rows = run_checks("tiny/brittle-v0", SMALL)
    assert statuses(rows)["fuzz"] == "fail"
    assert "AttributeError" in detail(rows, "fuzz")
    assert statuses(rows)["oracle"] == "fail"
    assert detail(rows, "oracle").startswith("0/3 tasks solved")
    assert statuses(rows)["reward-model: brittle-verifier"] == "skipped"  # one-step episodes

    result = runner.invoke(app, ["check", "tiny/brittle-v0", "--actions", "60", "--tasks", "3"])
    assert result.exit_code == 1, result.output
    assert "AttributeError" in result.output and "0/3 tasks solved" in result.output


def test_a_family_without_optional_pieces_gets_skipped_rows_saying_what_to_add(isolated):
    register_family(family("bare", "TinyEnv"))
    rows = run_checks("tiny/bare-v0", SMALL)
    assert statuses(rows) == {
        "pieces": "pass",
        "env": "pass",
        "fuzz": "pass",
        "reward-model": "skipped",
        "oracle": "skipped",
        "perturbations": "skipped",
    }
    assert "declares no oracle; add oracle='package.module:attr'" in detail(rows, "oracle")
    assert "add perturbations=" in detail(rows, "perturbations")
    assert "declares no verifier and no default PRMs" in detail(rows, "reward-model")

    result = runner.invoke(app, ["check", "tiny/bare-v0", "--actions", "20"])
    assert result.exit_code == 0, result.output


def test_the_command_prints_a_row_per_check_and_refuses_unknown_ids():
    result = runner.invoke(
        app, ["check", "prmgym/SearchQA-v0", "--actions", "30", "--tasks", "2", "--perturbed", "1"]
    )
    assert result.exit_code == 0, result.output
    for label in ("check_env passed", "2/2 tasks solved", "search-verifier", "wrong_answer"):
        assert label in result.output
    assert "8 pass, 0 fail, 0 skipped" in result.output

    only = runner.invoke(app, ["check", "prmgym/SearchQA-v0", "--only", "env,pieces"])
    assert only.exit_code == 0 and "fuzz" not in only.output and "2 pass" in only.output

    unknown = runner.invoke(app, ["check", "prmgym/Nope-v0"])
    assert unknown.exit_code == 2
    assert "unknown env id 'prmgym/Nope-v0'" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1
    assert runner.invoke(app, ["check", "prmgym/SearchQA-v0", "--only", "lint"]).exit_code == 2


def test_help_explains_every_check():
    result = runner.invoke(app, ["check", "--help"])
    assert result.exit_code == 0
    for name in CHECKS:
        assert name in result.output
