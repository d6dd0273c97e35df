import pytest

from prmgym.summary import compute_per_episode, summarize, wilson_interval
from prmgym.task import Task
from prmgym.trajectory import Accounting, Step, StepScore, Trajectory

TASK = Task(id="t", family="search", instruction="q?")


def episode(success, accounting, error=None, steps=2, score=1.0):
    return Trajectory(
        task=TASK,
        steps=[
            Step(index=i, action="a", observation="o", scores=[StepScore(value=score, source="v")])
            for i in range(steps)
        ],
        success=success,
        error=error,
        accounting=accounting,
    )


def three_episodes():
    return [
        episode(
            True,
            Accounting(
                prompt_tokens=100,
                completion_tokens=30,
                llm_calls=2,
                prm_calls=8,
                env_steps=2,
                actions_sampled=8,
                wall_time_s=1.5,
            ),
        ),
        episode(
            False,
            Accounting(
                prompt_tokens=50,
                completion_tokens=0,
                llm_calls=1,
                prm_calls=4,
                env_steps=3,
                actions_sampled=4,
                wall_time_s=0.5,
            ),
            steps=3,
            score=0.5,
        ),
        # A broken episode still spent its compute.
        episode(False, Accounting(prompt_tokens=30, llm_calls=1, wall_time_s=1.0), error="boom"),
    ]


def test_compute_is_the_mean_per_episode_broken_ones_included():
    compute = summarize(three_episodes())["compute"]
    assert compute == pytest.approx(
        {
            "actions_sampled_per_episode": 4.0,  # (8 + 4 + 0) / 3
            "generated_tokens_per_episode": 10.0,  # (30 + 0 + 0) / 3
            "prompt_tokens_per_episode": 60.0,  # (100 + 50 + 30) / 3
            "llm_calls_per_episode": 4 / 3,
            "prm_calls_per_episode": 4.0,  # (8 + 4 + 0) / 3
            "env_steps_per_episode": 5 / 3,
            "wall_time_s_per_episode": 1.0,  # (1.5 + 0.5 + 1.0) / 3
        }
    )


def test_existing_keys_keep_their_meaning():
    summary = summarize(three_episodes())
    assert summary["episodes"] == 3 and summary["broken"] == 1
    assert summary["success_rate"] == pytest.approx(1 / 3)
    assert summary["success_ci95"] == pytest.approx(list(wilson_interval(1, 3)))
    assert summary["mean_steps"] == pytest.approx(2.5)  # broken episode left out
    assert summary["mean_prm"] == {"v": pytest.approx((2 * 1.0 + 3 * 0.5) / 5)}
    assert summary["prompt_tokens"] == 180 and summary["completion_tokens"] == 30
    assert summary["episode_wall_time_s"] == pytest.approx(3.0)


def test_no_episodes_give_zero_compute():
    summary = summarize([])
    assert summary["episodes"] == 0 and summary["success_ci95"] == [0.0, 1.0]
    assert set(summary["compute"].values()) == {0.0}
    assert compute_per_episode([]) == summary["compute"]
