import gymnasium
import pytest

from prmgym.envs.search.oracle import oracle_actions
from prmgym.errors import ConfigError
from prmgym.rewards.evaluation.best_of_n import best_of_n
from prmgym.rewards.evaluation.first_error import LiveEnvs
from prmgym.rewards.verifiers.search import SearchVerifier
from prmgym.task import Task
from prmgym.trajectory import Step, StepScore, Trajectory


def traj(task_id, values, success, source="prm"):
    task = Task(id=task_id, family="search", instruction="q?")
    steps = [
        Step(index=i, action="a", observation="", scores=[StepScore(value=v, source=source)])
        for i, v in enumerate(values)
    ]
    return Trajectory(task=task, steps=steps, success=success)


def test_selection_beats_random_when_scores_track_success():
    trajectories = [
        traj("a", [0.9, 0.2], False),
        traj("a", [0.8, 0.7], True),
        traj("a", [0.1, 0.9], False),
        traj("b", [0.5], False),
        traj("b", [0.6], False),
    ]
    report = best_of_n(trajectories, source="prm", how="min")
    assert report.picks == {"a": 1, "b": 4}
    assert report.selected_success == pytest.approx(0.5)
    assert report.mean_success == pytest.approx((1 / 3 + 0) / 2)
    assert report.oracle_success == pytest.approx(0.5)
    assert report.groups == 2 and report.n == pytest.approx(2.5)


def test_the_aggregation_decides_the_pick():
    trajectories = [traj("a", [0.9, 0.2], False), traj("a", [0.8, 0.7], True)]
    assert best_of_n(trajectories, source="prm", how="min").picks["a"] == 1
    assert best_of_n(trajectories, source="prm", how="last").picks["a"] == 1
    assert best_of_n(trajectories, source="prm", how="mean").picks["a"] == 1
    trajectories = [traj("a", [0.1, 0.95], False), traj("a", [0.8, 0.7], True)]
    assert best_of_n(trajectories, source="prm", how="last").picks["a"] == 0
    assert best_of_n(trajectories, source="prm", how="min").picks["a"] == 1


def test_ties_count_as_a_random_pick_among_the_tied():
    trajectories = [traj("a", [1.0], True), traj("a", [1.0], False), traj("a", [0.2], True)]
    report = best_of_n(trajectories, source="prm")
    assert report.picks["a"] == 0 and report.selected_success == pytest.approx(0.5)


def test_a_trajectory_without_steps_is_never_preferred():
    empty = Trajectory(task=Task(id="a", family="search", instruction="q?"), success=True)
    report = best_of_n([empty, traj("a", [0.0], False)], source="prm")
    assert report.picks["a"] == 1


def test_stored_scores_from_another_source_are_not_read():
    with pytest.raises(ConfigError, match="no score from 'prm' \\(it has: judge\\)"):
        best_of_n([traj("a", [0.5], True, source="judge")], source="prm")


def test_exactly_one_of_prm_and_source():
    with pytest.raises(ConfigError, match="exactly one"):
        best_of_n([traj("a", [0.5], True)])
    with pytest.raises(ConfigError, match="exactly one"):
        best_of_n([traj("a", [0.5], True)], prm=SearchVerifier(), source="prm")
    with pytest.raises(ConfigError, match="needs trajectories"):
        best_of_n([], source="prm")


def play(env, task, actions):
    env.reset(options={"task_id": task.id})
    trajectory = Trajectory(task=task)
    info = {}
    for i, action in enumerate(actions):
        observation, _, _, _, info = env.step(action)
        trajectory.steps.append(Step(index=i, action=action, observation=observation))
    trajectory.success = bool(info.get("success"))
    return trajectory


def test_an_env_aware_prm_picks_the_right_answer_over_a_wrong_one():
    env = gymnasium.make("prmgym/SearchQA-v0", split="test")
    trajectories = []
    for task in env.unwrapped.tasks[:4]:
        right = oracle_actions(task)
        wrong = [*right[:-1], 'answer("certainly wrong")']
        trajectories += [play(env, task, wrong), play(env, task, right)]
    env.close()
    with LiveEnvs("prmgym/SearchQA-v0", {"split": "test"}) as envs:
        report = best_of_n(trajectories, prm=SearchVerifier(), envs=envs)
    assert report.selected_success == 1.0 and report.mean_success == 0.5
    assert all(pick % 2 == 1 for pick in report.picks.values())
