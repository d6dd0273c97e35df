import gymnasium
import pytest

import prmgym  # noqa: F401 - registers the envs
from prmgym.agents.policies import make_policy
from prmgym.envs.search.oracle import oracle_actions
from prmgym.task import Task
from prmgym.training.prm.labels import (
    hard_labels,
    monte_carlo_labels,
    outcome_labels,
    verifier_labels,
)
from prmgym.trajectory import Step, StepScore, Trajectory


@pytest.fixture(scope="module")
def env():
    env = gymnasium.make("prmgym/SearchQA-v0", split="train")
    yield env
    env.close()


def play(env, task, actions):
    env.reset(seed=0, options={"task_id": task.id})
    steps, success = [], False
    for i, action in enumerate(actions):
        observation, reward, terminated, _, info = env.step(action)
        steps.append(Step(index=i, action=action, observation=observation, reward=reward))
        if terminated:
            success = bool(info["success"])
            break
    return Trajectory(task=task, steps=steps, success=success, seed=0)


def test_oracle_prefixes_are_good_and_a_wrong_answer_is_not(env):
    task = env.unwrapped.tasks[0]
    plan = oracle_actions(task)
    oracle = make_policy("oracle")
    good = play(env, task, plan)
    assert good.success
    assert monte_carlo_labels(env, good, oracle, k=2, max_steps=6) == [1.0] * len(plan)
    wrong = play(env, task, [*plan[:-1], 'answer("certainly not this")'])
    labels = monte_carlo_labels(env, wrong, oracle, k=2, max_steps=6)
    assert labels == [1.0] * (len(plan) - 1) + [0.0]
    assert hard_labels(labels) == [True] * (len(plan) - 1) + [False]


def test_continuations_that_run_out_of_steps_fail(env):
    task = env.unwrapped.tasks[0]
    plan = oracle_actions(task)
    trajectory = play(env, task, plan[:1])
    # The oracle needs len(plan) - 1 more steps; fewer is a failure.
    assert monte_carlo_labels(env, trajectory, make_policy("oracle"), 1, len(plan) - 2) == [0.0]
    assert monte_carlo_labels(env, trajectory, make_policy("oracle"), 1, len(plan) - 1) == [1.0]


class FixedPRM:
    name = "fixed"

    def __init__(self, values):
        self.values = values

    def score(self, trajectory, env=None):
        return [StepScore(value=v) for v in self.values]

    def score_candidates(self, trajectory, candidate_actions, env=None):
        return []


def test_verifier_and_outcome_labels():
    task = Task(id="t", family="search", instruction="q?")
    steps = [Step(index=i, action="a", observation="o") for i in range(3)]
    trajectory = Trajectory(task=task, steps=steps, success=True)
    assert verifier_labels(trajectory, FixedPRM([0.9, 0.5, 0.1]), threshold=0.5) == [1, 1, 0]
    assert outcome_labels(trajectory) == [1.0, 1.0, 1.0]
    failed = trajectory.model_copy(update={"success": False})
    assert outcome_labels(failed) == [0.0, 0.0, 0.0]
