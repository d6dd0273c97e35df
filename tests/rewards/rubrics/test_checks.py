import pytest

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


@pytest.mark.parametrize(
    ("action", "want"),
    [
        ('str_replace("pkg/core.py", "a", "b")', 1.0),
        ('str_replace("/workspace/tests/test_core.py", "a", "b")', 0.0),
        ('create("pkg/test_helpers.py", "x")', 0.0),
        ('insert("conftest.py", 1, "x")', 0.0),
        ('insert("src/pkg/contest.py", 1, "x")', 1.0),
        ('bash("sed -i s/a/b/ tests/test_core.py")', None),
    ],
)
def test_edits_not_tests_flags_edits_of_test_files(action, want):
    assert run_check("edits_not_tests", {}, step(action), []) == want


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
