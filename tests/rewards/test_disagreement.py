import pytest

from prmgym.rewards.disagreement import auroc, disagreement
from prmgym.task import Task
from prmgym.trajectory import Step, StepScore, Trajectory


def episode(values, success, source="prm"):
    task = Task(id="t", family="search", instruction="q?")
    steps = [
        Step(index=i, action="a()", observation="", scores=[StepScore(value=v, source=source)])
        for i, v in enumerate(values)
    ]
    return Trajectory(task=task, steps=steps, success=success)


def test_auroc_by_hand():
    # positives 0.9, 0.4; negatives 0.5, 0.4 -> wins: 1 + 1 + 0 + 0.5 = 2.5 of 4
    assert auroc([0.9, 0.4, 0.5, 0.4], [True, True, False, False]) == pytest.approx(0.625)
    assert auroc([0.1, 0.2], [True, True]) is None


def test_counts_both_kinds_of_disagreement():
    runs = [
        episode([0.9, 0.8], success=False),  # PRM high but failed
        episode([0.9, 0.2], success=True),  # PRM low (min) but solved
        episode([0.7, 0.9], success=True),  # agree
        episode([0.1], success=False),  # agree
    ]
    report = disagreement(runs)["prm"]
    assert report["episodes"] == 4
    assert report["high_but_failed"] == 1 and report["high_but_failed_rate"] == 0.5
    assert report["low_but_solved"] == 1 and report["low_but_solved_rate"] == 0.5
    assert report["agreement"] == 0.5
    # With the mean instead of the min, the second episode (mean 0.55) agrees.
    assert disagreement(runs, how="mean")["prm"]["low_but_solved"] == 0


def test_broken_and_partially_scored_episodes_are_skipped():
    broken = episode([0.9], success=False)
    broken.error = "sandbox crashed"
    partial = episode([0.9, 0.9], success=False)
    partial.steps[1].scores = []
    assert disagreement([broken, partial]) == {}
