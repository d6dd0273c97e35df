"""A family is one declaration: registration, lazy pieces, clear gaps, and no tables elsewhere."""

import ast
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import gymnasium
import pytest

import prmgym.family as family_module
import prmgym.registry as registry_module
from prmgym.agents.policies import make_policy
from prmgym.agents.policies.base import EpisodeView
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.agents.policies.random import RandomPolicy
from prmgym.agents.prompts import FamilyPrompt, prompt_for
from prmgym.envs.actions import parse_tool_call
from prmgym.envs.perturbation import FamilyPerturbations
from prmgym.envs.registration import BUILTIN_FAMILIES
from prmgym.errors import ConfigError
from prmgym.family import Family, FamilyEnv, families, get_family, load_entry_point, register_family
from prmgym.registry import env_info
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.rubrics.rubric import Rubric, default_rubric
from prmgym.task import Task

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ("search", "swe", "data", "web")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Families, env ids and an importable plugin module that vanish after the test."""
    monkeypatch.setattr(family_module, "_FAMILIES", dict(family_module._FAMILIES))
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    before = set(gymnasium.registry)
    (tmp_path / "tiny_plugin.py").write_text(
        textwrap.dedent(
            """
            TOOLS_HELP = 'Tools: say("text")'

            def oracle(task, observations, actions):
                return 'say("hello")'
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for env_id in set(gymnasium.registry) - before:
        del gymnasium.registry[env_id]
    for module in ("tiny_plugin", "tiny_wrong", "broken_plugin"):
        sys.modules.pop(module, None)


def tiny(**pieces) -> Family:
    return Family(
        name="tiny",
        prompt="prmgym.agents.prompts.search:PROMPT",
        tool_help="tiny_plugin:TOOLS_HELP",
        envs=(FamilyEnv(id="tiny/Tiny-v0", entry_point="tiny_plugin:TinyEnv", task_source="t"),),
        default_prms=("verifier",),
        **pieces,
    )


def view(family: str, instruction: str = "q", observations=("q",), seed: int = 0) -> EpisodeView:
    task = Task(id="t", family=family, instruction=instruction)
    return EpisodeView(task=task, family=family, observations=list(observations), seed=seed)


def test_a_registered_family_is_found_and_registers_its_env_ids(isolated):
    declared = register_family(tiny(oracle="tiny_plugin:oracle"))
    assert get_family("tiny") is declared and "tiny" in families()
    info = env_info("tiny/Tiny-v0")
    assert (info.family, info.default_prms) == ("tiny", ("verifier",))
    assert gymnasium.spec("tiny/Tiny-v0").entry_point == "tiny_plugin:TinyEnv"
    with pytest.raises(ConfigError, match=r"unknown family 'chess'.*register_family"):
        get_family("chess")


def test_pieces_load_lazily_and_the_oracle_policy_uses_the_declared_one(isolated):
    register_family(tiny(oracle="tiny_plugin:oracle"))
    assert "tiny_plugin" not in sys.modules  # declaring and registering imported nothing
    assert get_family("tiny").load("tool_help") == 'Tools: say("text")'
    assert OraclePolicy().act([view("tiny")])[0].action == 'say("hello")'


def test_a_missing_piece_says_what_to_add_to_the_declaration(isolated):
    register_family(tiny())
    add = r"family 'tiny' declares no {0}; add {0}='package.module:attr'"
    with pytest.raises(ConfigError, match=add.format("oracle")):
        OraclePolicy().act([view("tiny")])
    with pytest.raises(ConfigError, match=add.format("random_action")):
        RandomPolicy().act([view("tiny")])
    with pytest.raises(ConfigError, match=add.format("verifier")):
        make_scorer("verifier", family="tiny")
    with pytest.raises(ConfigError, match=add.format("rubric") + r".*--prm"):
        default_rubric("tiny")
    with pytest.warns(UserWarning, match="family 'tiny' is declared again"):
        register_family(replace(tiny(oracle="tiny_plugin:oracle"), envs=()))
    with pytest.raises(ConfigError, match=add.format("wrong_action")):
        make_policy("noisy-oracle:0.5").act([view("tiny")])


def test_bad_strings_are_refused_when_declared_or_named_when_loaded(isolated):
    with pytest.raises(ConfigError, match="lazy 'package.module:attr'"):
        tiny(oracle="tiny_plugin.oracle")
    with pytest.raises(ConfigError, match="letters, digits"):
        Family(name="a b", prompt="m:a", tool_help="m:b")
    with pytest.raises(ConfigError, match=r"family 'tiny', oracle: .*no module named 'nowhere'"):
        tiny(oracle="nowhere.at_all:oracle").load("oracle")
    with pytest.raises(ConfigError, match=r"'tiny_plugin' has no attribute 'missing'"):
        tiny(oracle="tiny_plugin:missing").load("oracle")
    with pytest.raises(ConfigError, match="ships no file"):
        load_entry_point("prmgym.rewards.rubrics:defaults/chess.yaml")


def test_an_import_error_inside_a_piece_is_not_mistaken_for_a_bad_string(isolated, tmp_path):
    (tmp_path / "broken_plugin.py").write_text("import not_installed_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency"):
        load_entry_point("broken_plugin:anything")


def test_every_builtin_family_declares_its_pieces_and_each_resolves():
    assert [family.name for family in BUILTIN_FAMILIES] == list(BUILTIN)
    for name in BUILTIN:
        family = get_family(name)
        for env in family.envs:
            assert (env_info(env.id).family, env_info(env.id).default_prms) == (
                name,
                family.default_prms,
            )
        assert isinstance(prompt_for(name), FamilyPrompt)
        assert isinstance(family.load("tool_help"), str) and family.load("tool_help")
        assert callable(family.load("oracle")) and callable(family.load("random_action"))
        assert isinstance(family.load("verifier"), type)
        assert isinstance(default_rubric(name), Rubric)
        perturbations = family.load("perturbations")
        assert isinstance(perturbations, FamilyPerturbations) and "none" in perturbations.kinds
        for prm in family.default_prms:
            assert make_scorer(prm, family=name) is not None
    assert callable(get_family("search").load("wrong_action"))


def _calls(family: str, instruction: str, observation: str, n: int = 60) -> list:
    views = [view(family, instruction, [observation], seed=seed) for seed in range(n)]
    return [parse_tool_call(d.action) for d in RandomPolicy().act(views)]


def test_random_keeps_its_search_actions():
    views = [view("search", seed=seed) for seed in range(2)]
    assert [[d.action for d in draws] for draws in RandomPolicy().sample(views, 3)] == [
        # What the random policy drew before families declared their own random actions.
        ['search("sort")', 'search("sort pattern")', 'search("dumps default merge")'],
        ['search("random heapq")', 'open("path")', 'open("default")'],
    ]


def test_random_calls_each_familys_own_tools_with_arguments_its_env_accepts():
    from prmgym.envs.data.env import bind_call as data_bind
    from prmgym.envs.search.env import bind_call as search_bind
    from prmgym.envs.swe.env import bind_call as swe_bind
    from prmgym.envs.web.actions import bind_call as web_bind

    page = (
        "URL: http://127.0.0.1:8000/\nAccessibility tree:\nRootWebArea 'Home | Shop'\n"
        "  [3] searchbox 'Search products'\n  [4] button 'Search'\n  [7] link 'Red Teapot'"
    )
    data_question = (
        "How many airports are in WA?\n\nAnswer format: @n_airports[value]\n\n"
        "Files in the working directory: airports.csv"
    )
    cases = {
        "search": ("q", "q", search_bind, {"search", "open", "answer"}),
        "data": (data_question, data_question, data_bind, {"python", "answer"}),
        "swe": ("Fix pkg/core.py", "Fix pkg/core.py", swe_bind, {"bash", "view", "str_replace"}),
        "web": ("Add the teapot", page, web_bind, {"click", "fill"}),
    }
    for family, (instruction, observation, bind, expected) in cases.items():
        calls = _calls(family, instruction, observation)
        names = {call.name for call in calls}
        assert expected <= names <= set(prompt_for(family).tools), family
        for call in calls:
            bind(call)  # raises if the env would refuse the call's arguments
    data_calls = _calls("data", data_question, data_question)
    assert any("airports.csv" in str(c.args) for c in data_calls if c.name == "python")
    assert all("@n_airports[" in c.args[0] for c in data_calls if c.name == "answer")
    web_calls = _calls("web", "Add the teapot", page)
    assert {c.args[0] for c in web_calls if c.name in ("click", "fill")} <= {"3", "4", "7"}
    assert {c.args[0] for c in web_calls if c.name == "fill"} <= {"3"}  # only the text field


# --- no per-family dispatch outside family declarations ----------------------------------


def _family_dispatch(source: str, names: set[str]) -> list[int]:
    """Lines holding a dict keyed by 2+ family names, or a family variable compared to one."""

    def named(node: ast.AST) -> int:
        if isinstance(node, ast.Constant):
            return int(node.value in names)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return sum(named(element) for element in node.elts)
        return 0

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict) and sum(named(k) for k in node.keys if k) >= 2:
            lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            about_family = any("family" in ast.unparse(side) for side in sides)
            if about_family and any(named(side) for side in sides):
                lines.append(node.lineno)
    return lines


def test_the_dispatch_scan_finds_the_tables_it_replaced():
    names = set(BUILTIN)
    old = """
VERIFIERS = {"search": "search-verifier", "swe": "swe-verifier"}
def plan_for(family):
    if family == "search":
        return 1
    if episode.family in ("web", "data"):
        return 2
    return call.name == "search" or {"search": 1}
"""
    assert _family_dispatch(old, names) == [2, 4, 6]


def test_no_module_dispatches_on_family_names():
    names = set(BUILTIN)
    found = []
    for part in ("prmgym", "sandboxes", "envs", "rewards", "agents", "training"):
        for path in sorted((ROOT / part).rglob("*.py")):
            for line in _family_dispatch(path.read_text(), names):
                found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, "per-family tables; declare the piece in the Family instead:\n" + "\n".join(
        found
    )


def test_noisy_oracle_draws_the_declared_wrong_action(isolated, tmp_path):
    (tmp_path / "tiny_wrong.py").write_text(
        "def wrong(task, right, observations, rng):\n    return 'say(\"bye\")'\n"
    )
    register_family(tiny(oracle="tiny_plugin:oracle", wrong_action="tiny_wrong:wrong"))
    draws = make_policy("noisy-oracle:0.5").sample([view("tiny")], 40)[0]
    assert {d.action for d in draws} == {'say("hello")', 'say("bye")'}
