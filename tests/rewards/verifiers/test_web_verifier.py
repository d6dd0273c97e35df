"""The web verifier replays a trajectory in a scratch context and reads the checklist."""

import pytest

from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.oracle import oracle_action
from prmgym.envs.web.tasks import load_task_file
from prmgym.rewards.registry import make_scorer
from prmgym.rewards.verifiers.web import WebVerifier
from prmgym.trajectory import Trajectory

pytestmark = pytest.mark.integration

TASKS = {task.id: task for task in load_task_file("web-lite")}
ADD = TASKS["shop/add-quantity/0"]
PRICE = TASKS["shop/price/1"]


@pytest.fixture(scope="module")
def env():
    env = WebEnv([ADD, PRICE])
    yield env
    env.close()


def run(env, task, actions):
    """Play ``actions``; a callable action gets the last observation and the step number."""
    observation, _ = env.reset(options={"task_id": task.id})
    trajectory = Trajectory(task=env.task, agent="scripted", seed=0)
    for index, action in enumerate(actions):
        action = action(observation, index) if callable(action) else action
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.record(action, observation, reward, terminated, truncated, info)
        if terminated:
            break
    return trajectory


def oracle(task):
    return [lambda obs, i, task=task: oracle_action(task.to_task(), obs, i)] * len(task.oracle)


def test_every_oracle_step_makes_progress_or_moves_on(env):
    scores = WebVerifier().score(run(env, ADD, oracle(ADD)), env=env)
    assert [s.label for s in scores] == ["ok"] * len(ADD.oracle)
    assert scores[-1].value == 1.0 and "done" in scores[-1].rationale
    assert any("reaches subgoal" in s.rationale for s in scores)


def test_no_ops_wrong_pages_and_wrong_answers(env):
    scores = WebVerifier().score(
        run(env, PRICE, ["noop(10)", 'goto("/no-such-page")', 'send_msg_to_user("3")']), env=env
    )
    assert [(s.label, s.value) for s in scores] == [
        ("correctable", 0.3),
        ("correctable", 0.4),
        ("fatal", 0.0),
    ]


def test_candidates_are_scored_from_the_same_state(env):
    trajectory = run(env, PRICE, oracle(PRICE)[:-1])
    scores = WebVerifier().score_candidates(
        trajectory, [f'send_msg_to_user("{PRICE.answer}")', 'send_msg_to_user("0")'], env=env
    )
    assert [s.label for s in scores] == ["ok", "fatal"]


def test_the_verifier_alias_builds_it(env):
    assert isinstance(make_scorer("verifier", family="web"), WebVerifier)
    with pytest.raises(ValueError, match="environment-aware"):
        WebVerifier().score(run(env, PRICE, ["noop(1)"]), env=None)
