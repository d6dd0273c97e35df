import random

import gymnasium
import pytest

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.swe.oracle import oracle_actions
from prmgym.envs.swe.perturbations import SWE_KINDS, perturb_swe, wrong_edit


@pytest.fixture(scope="module")
def env():
    env = gymnasium.make("prmgym/SWE-v0", split="test")
    yield env.unwrapped
    env.close()


def _play(env, task, actions):
    env.reset(options={"task_id": task.id})
    return [env.step(action) for action in actions]


def test_none_is_the_oracle(env):
    task = env.tasks[0]
    made = perturb_swe(env, task, "none", random.Random(0))
    assert made.actions == tuple(oracle_actions(task)) and made.first_error == -1


@pytest.mark.slow
def test_submit_early_submits_before_the_fix_and_fails(env):
    for seed, task in enumerate(env.tasks):
        oracle = oracle_actions(task)
        made = perturb_swe(env, task, "submit_early", random.Random(seed))
        assert made is not None and made.actions[-1] == "submit()"
        i = made.first_error
        assert i == len(made.actions) - 1 < len(oracle) - 1
        assert made.actions[:i] == tuple(oracle[:i])
        *_, (_, reward, terminated, _, info) = _play(env, task, made.actions)
        assert terminated and reward == 0.0 and not info.get("success")


@pytest.mark.slow
def test_repeat_adds_an_edit_that_changes_nothing(env):
    for seed, task in enumerate(env.tasks):
        oracle = oracle_actions(task)
        made = perturb_swe(env, task, "repeat", random.Random(seed))
        assert made is not None
        i = made.first_error
        assert made.actions[i] == made.actions[i - 1] and made.actions[:i] == tuple(oracle[:i])
        steps = _play(env, task, made.actions)
        assert steps[i][4]["action_error"] is not None and steps[-1][1] == 1.0


@pytest.mark.slow
def test_wrong_edit_changes_one_edit_into_an_accepted_one_that_does_not_fix(env):
    for seed, task in enumerate(env.tasks):
        oracle = oracle_actions(task)
        made = perturb_swe(env, task, "wrong_edit", random.Random(seed))
        assert made is not None and made.kind == "wrong_edit"
        i = made.first_error
        assert len(made.actions) == len(oracle)
        changed = [j for j, (a, b) in enumerate(zip(made.actions, oracle, strict=True)) if a != b]
        assert changed == [i]
        gold, wrong = parse_tool_call(oracle[i]), parse_tool_call(made.actions[i])
        assert wrong.name == gold.name == "str_replace"
        path, old, new = wrong.args
        assert (path, old) == gold.args[:2] and new not in (old, gold.args[2])
        steps = _play(env, task, made.actions)
        assert len(steps) == len(made.actions)
        assert steps[i][4]["action_error"] is None and steps[i][4]["edited"] == path
        _, reward, terminated, _, info = steps[-1]
        assert terminated and reward == 0.0 and not info["success"]


@pytest.mark.slow
def test_wrong_edit_is_the_first_error_wherever_the_edit_is(env):
    task = env.tasks[1]
    actions = ['view("textkit/__init__.py")', *oracle_actions(task)]
    made = wrong_edit(env, task, actions, random.Random(0))
    assert made is not None and made.first_error == 1
    assert made.actions[0] == actions[0] and made.actions[2:] == tuple(actions[2:])
    assert made.actions[1] != actions[1]


@pytest.mark.slow
def test_wrong_edit_needs_an_edit_that_later_edits_still_fit(env):
    task = env.tasks[1]
    oracle = oracle_actions(task)
    assert wrong_edit(env, task, ["submit()"], random.Random(0)) is None
    # A later edit anchored on the fixed line: no wrong version of the fix leaves it in place,
    # so only that later edit (a str_replace of its own) may be made wrong.
    fixed, rewritten = "    if len(text) <= width:\n", "    if width >= len(text):\n"
    later = f"str_replace('textkit/__init__.py', {fixed!r}, {rewritten!r})"
    actions = [*oracle[:-1], later, "submit()"]
    for seed in range(2):
        made = wrong_edit(env, task, actions, random.Random(seed))
        assert made is not None and made.first_error == 1 and made.actions[0] == actions[0]


@pytest.mark.slow
def test_wrong_edit_keeps_no_edit_that_still_resolves_the_task(env):
    task = env.tasks[1]
    oracle = oracle_actions(task)
    # The later edit is a right fix with no operator to swap: its only wrong version, the old
    # line with a comment, leaves the first edit's fix in place, so the task still resolves.
    fixed, rewritten = "    if len(text) <= width:\n", "    if not text[width:]:\n"
    later = f"str_replace('textkit/__init__.py', {fixed!r}, {rewritten!r})"
    assert _play(env, task, [*oracle[:-1], later, "submit()"])[-1][1] == 1.0
    assert wrong_edit(env, task, [*oracle[:-1], later, "submit()"], random.Random(0)) is None


@pytest.mark.slow
def test_wrong_edit_never_breaks_the_syntax(env):
    task = env.tasks[1]
    path, line = "textkit/__init__.py", "    return text[: width - len(suffix)] + suffix\n"
    split = "    return text[: width - len(suffix)] + \\\n        suffix\n"
    # The second edit's only wrong version, a comment line under the backslash, cannot parse.
    actions = [
        f"str_replace({path!r}, {line!r}, {split!r})",
        f"str_replace({path!r}, '        suffix\\n', '        suffix  # the marker\\n')",
        "submit()",
    ]
    for seed in range(8):
        made = wrong_edit(env, task, actions, random.Random(seed))
        assert made is not None and made.first_error == 0


@pytest.mark.slow
def test_perturb_swe_dispatches_wrong_edit(env):
    assert SWE_KINDS.index("none") == 0 and "wrong_edit" in SWE_KINDS
    task = env.tasks[0]
    made = perturb_swe(env, task, "wrong_edit", random.Random(3))
    assert made == wrong_edit(env, task, oracle_actions(task), random.Random(3))


def test_an_unknown_kind_is_refused(env):
    assert SWE_KINDS[0] == "none"
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb_swe(env, env.tasks[0], "typo", random.Random(0))
