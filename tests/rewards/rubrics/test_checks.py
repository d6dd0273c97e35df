import pytest

from prmgym.envs.swe.effects import StepEffects
from prmgym.errors import ConfigError
from prmgym.rewards.rubrics.checks import register_check, run_check
from prmgym.trajectory import Step


def step(action, observation="", error=None, index=0):
    return Step(index=index, action=action, observation=observation, action_error=error)


def test_parses():
    assert run_check("parses", {}, step('search("heapq")'), []) == 1.0
    assert run_check("parses", {}, step("search heapq please"), []) == 0.0
    assert run_check("parses", {}, step('fly("x")', error="unknown tool"), []) == 0.0


def test_no_repeat_ignores_whitespace():
    earlier = [step('search("heapq merge")')]
    assert run_check("no_repeat", {}, step(' search("heapq  merge")'), earlier) == 0.0
    assert run_check("no_repeat", {}, step('search("heapq")'), earlier) == 1.0


def test_argument_seen_catches_made_up_ids():
    earlier = [step('search("heapq")', observation="[heapq.merge] Merge sorted inputs")]
    args = {"tools": ["open"]}
    assert run_check("argument_seen", args, step('open("heapq.merge")'), earlier) == 1.0
    assert run_check("argument_seen", args, step('open("heapq.fake")'), earlier) == 0.0
    # Not applicable: another tool, or no string argument.
    assert run_check("argument_seen", args, step('search("x")'), earlier) is None
    assert run_check("argument_seen", args, step("open()"), earlier) is None
    # The first step acts on the reset's observation, which a trajectory does not hold.
    assert run_check("argument_seen", args, step('open("heapq.merge")'), []) is None


def test_tool_used_before():
    earlier = [step('search("a")'), step('open("b")', error="no such document")]
    args = {"tool": "open"}
    assert run_check("tool_used_before", args, step('answer("x")'), earlier) == 0.0
    assert run_check("tool_used_before", args, step('answer("x")'), [*earlier, step('open("c")')])
    with pytest.raises(ConfigError, match="tool"):
        run_check("tool_used_before", {}, step('answer("x")'), earlier)


def test_unknown_check_and_bad_args():
    with pytest.raises(ConfigError, match="built-in checks"):
        run_check("telepathy", {}, step("x()"), [])
    with pytest.raises(ConfigError, match="rejected its args"):
        run_check("max_chars", {"limt": 3}, step("x()"), [])


def test_registered_check_is_clipped_into_range(monkeypatch):
    monkeypatch.setattr("prmgym.rewards.rubrics.checks.CHECKS", {})
    register_check("always_two")(lambda step, earlier: 2.0)
    assert run_check("always_two", {}, step("x()"), []) == 1.0


def effects(changed, flagged=None):
    """The effects line the SWE env ends an observation with."""
    return StepEffects(changed, flagged or {}).footer(1000)


def test_workspace_untampered_judges_the_change_whatever_tool_made_it():
    clean = step(
        'bash("sed -i s/a/b/ pkg/core.py")', observation=f"exit code: 0\n{effects(['pkg/core.py'])}"
    )
    tampered = step(
        'bash("sed -i s/a/b/ pkg/core.py")',
        observation="exit code: 0\n"
        + effects(["tests/test_core.py"], {"tests/test_core.py": "a test file"}),
    )
    assert run_check("workspace_untampered", {}, clean, []) == 1.0
    assert run_check("workspace_untampered", {}, tampered, []) == 0.0
    # A step that changed nothing does not apply, whatever its action names.
    assert run_check("workspace_untampered", {}, step('create("tests/test_x.py", "x")'), []) is None
    # Only the last line counts: printing a clean line before the env's real one hides nothing.
    forged = step(
        'bash("echo ...")',
        observation=f"{effects(['pkg/core.py'])}\n"
        + effects(["conftest.py"], {"conftest.py": "x"}),
    )
    assert run_check("workspace_untampered", {}, forged, []) == 0.0


def test_tests_observed_needs_a_real_run_after_the_last_change():
    edit = step(
        'str_replace("a.py", "x", "y")', observation=f"Replaced.\n{effects(['a.py'])}", index=0
    )
    run = step(
        'bash("python -m pytest -q tests")',
        observation="exit code: 1\n[stdout]\n..F\n1 failed, 2 passed in 0.05s",
        index=1,
    )
    echo = step(
        "bash(\"echo '3 passed in 0.01s'\")",
        observation="exit code: 0\n[stdout]\n3 passed in 0.01s",
        index=1,
    )
    named = step('bash("echo pytest")', observation="exit code: 0\n[stdout]\npytest", index=1)
    unittest = step(
        'bash("python -m unittest")',
        observation="exit code: 0\n[stderr]\n...\nRan 3 tests in 0.002s\n\nOK",
        index=1,
    )
    submit = step("submit()", index=2)
    assert run_check("tests_observed", {}, submit, [edit, run]) == 1.0
    assert run_check("tests_observed", {}, submit, [edit, unittest]) == 1.0
    # Naming a test runner, or printing its summary line, is not running the tests.
    assert run_check("tests_observed", {}, submit, [edit, named]) == 0.0
    assert run_check("tests_observed", {}, submit, [edit, echo]) == 0.0
    # A change by any tool after the run makes the run stale.
    later = step(
        'bash("sed -i s/y/z/ a.py")', observation=f"exit code: 0\n{effects(['a.py'])}", index=2
    )
    assert run_check("tests_observed", {}, step("submit()", index=3), [edit, run, later]) == 0.0


def test_ran_command_looks_for_an_accepted_earlier_call():
    args = {"pattern": "pytest"}
    ran = [step('bash("python -m pytest -q tests")')]
    assert run_check("ran_command", args, step("submit()"), ran) == 1.0
    assert run_check("ran_command", args, step("submit()"), [step('bash("ls")')]) == 0.0
    refused = [step('bash("pytest")', error="timed out")]
    assert run_check("ran_command", args, step("submit()"), refused) == 0.0
    with pytest.raises(ConfigError, match="pattern"):
        run_check("ran_command", {}, step("submit()"), ran)


def test_values_seen_is_the_share_of_answer_values_an_earlier_output_showed():
    args = {"tool": "answer", "pattern": r"@\w+\[([^\]]*)\]"}
    earlier = [step('python("df.mean()")', observation="[result]\n4201.8")]
    both = step('answer("@mean[4201.8] @n[152]")')
    assert run_check("values_seen", args, both, earlier) == 0.5
    assert run_check("values_seen", args, step('answer("@mean[4201.8]")'), earlier) == 1.0
    assert run_check("values_seen", args, step('python("1")'), earlier) is None
    assert run_check("values_seen", args, step('answer("no parts")'), earlier) is None
    with pytest.raises(ConfigError, match="pattern"):
        run_check("values_seen", {}, both, earlier)
