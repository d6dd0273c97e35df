import random

import gymnasium
import pytest

from prmgym.envs.swe.oracle import oracle_actions
from prmgym.envs.swe.perturbations import SWE_KINDS, perturb_swe


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


def test_repeat_adds_an_edit_that_changes_nothing(env):
    for seed, task in enumerate(env.tasks):
        oracle = oracle_actions(task)
        made = perturb_swe(env, task, "repeat", random.Random(seed))
        assert made is not None
        i = made.first_error
        assert made.actions[i] == made.actions[i - 1] and made.actions[:i] == tuple(oracle[:i])
        steps = _play(env, task, made.actions)
        assert steps[i][4]["action_error"] is not None and steps[-1][1] == 1.0


def test_an_unknown_kind_is_refused(env):
    assert SWE_KINDS[0] == "none"
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb_swe(env, env.tasks[0], "typo", random.Random(0))
