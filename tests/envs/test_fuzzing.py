"""The action fuzzer: deterministic, covers every category and tool, and no env raises on it."""

import inspect

import pytest

import prmgym
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.envs.fuzzing import (
    CATEGORIES,
    FOREIGN_TOOLS,
    ActionFuzzer,
    env_tools,
    fuzz_env,
    fuzz_id,
)
from prmgym.envs.search.env import SearchQAEnv
from prmgym.task import Task

TOOLS = SearchQAEnv.tool_signatures


def test_the_same_seed_gives_the_same_actions_and_another_seed_others():
    first = ActionFuzzer(TOOLS, max_chars=2000, seed=7).take(300)
    assert first == ActionFuzzer(TOOLS, max_chars=2000, seed=7).take(300)
    assert first != ActionFuzzer(TOOLS, max_chars=2000, seed=8).take(300)


def test_every_category_and_every_tool_is_fuzzed():
    actions = ActionFuzzer(TOOLS, max_chars=16000, seed=0).take(3000)
    assert {a.category for a in actions} == set(CATEGORIES)
    by = {c: [a.text for a in actions if a.category == c] for c in CATEGORIES}
    for tool in TOOLS:
        assert any(text.startswith(f"{tool}(") for text in by["wrong_types"]), tool
    assert max(len(text) for text in by["nesting"]) > 3000 * 2  # thousands deep
    assert any(len(text) > 16000 for text in by["huge"])  # past the length limit
    assert any("9" * 4301 in text for text in by["huge"])  # past int's digit limit
    assert any("1e99999" in text for text in by["wrong_types"])
    assert any("\x00" in text for text in by["control"])
    assert any("\ud800" in text for text in by["control"])
    foreign = {text.split("(")[0] for text in by["foreign"]}
    assert foreign and foreign <= set(FOREIGN_TOOLS) - set(TOOLS)


def test_the_fuzzer_rejects_unknown_categories():
    with pytest.raises(ValueError, match="unknown categories"):
        ActionFuzzer(TOOLS, weights={"everything": 1})


class _FragileEnv(TextEnv):
    """A toy env whose ``boom`` tool raises, as a crash the fuzzer must record."""

    def task_prompt(self, task: Task) -> str:
        return task.instruction

    def tools(self) -> str:
        return 'Tools: ping("text") answers; boom() breaks; end() ends the episode.'

    def execute(self, call):
        if call.name == "boom":
            raise KeyError("boom")
        return ToolResult("pong", terminated=call.name == "end")


def test_fuzz_env_records_exceptions_and_keeps_going():
    env = _FragileEnv([Task(id="t", family="toy", instruction="play")])
    tools = env_tools(env)
    assert tools == {"ping": None, "boom": None, "end": None}  # read off the help text
    actions = ActionFuzzer(tools, max_chars=2000, seed=0).take(400)
    report = fuzz_env(env, actions, env_id="toy", reset_every=25, keep=3)
    assert report.actions == 400 and report.exceptions > 0
    assert report.exception_types.keys() == {"KeyError"}
    assert len(report.crashes) == 3
    crash = report.crashes[0]
    assert crash.env_id == "toy" and "boom" in crash.action
    assert "in execute" in crash.where
    assert report.resets > 400 // 25  # after crashes and ended episodes too


def test_env_tools_prefers_declared_signatures():
    env = SearchQAEnv()
    assert env_tools(env) == dict(TOOLS)
    assert all(isinstance(s, inspect.Signature) for s in env_tools(env).values())


# A slice of scripts/fuzz_actions.py: every registered id takes fuzzed actions without raising.
_FAST = {"prmgym/SearchQA-v0"}


_SLOW = (pytest.mark.integration, pytest.mark.slow)


@pytest.mark.parametrize(
    "env_id",
    [
        pytest.param(env_id, marks=() if env_id in _FAST else _SLOW)
        for env_id in sorted(prmgym.registered_envs())
    ],
)
def test_no_registered_env_raises_on_fuzzed_actions(env_id):
    # Actions that parse run for real (sandbox, kernel, Chromium): fewer where each costs more.
    count = 300 if env_id in _FAST else 120
    report = fuzz_id(env_id, count, seed=0)
    assert report.actions == count
    assert report.exceptions == 0, report.crashes
