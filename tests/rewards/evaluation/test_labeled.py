from prmgym.rewards.evaluation.labeled import LabeledTrajectory, load_labeled, save_labeled
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory


def item(first_error, n=3):
    task = Task(id="t", family="search", instruction="q?")
    steps = [Step(index=i, action=f"a{i}()", observation=f"o{i}") for i in range(n)]
    return LabeledTrajectory(trajectory=Trajectory(task=task, steps=steps), first_error=first_error)


def test_round_trip(tmp_path):
    items = [item(-1), item(1)]
    assert load_labeled(save_labeled(items, tmp_path / "x" / "set.jsonl")) == items


def test_step_labels_stop_at_the_first_error():
    assert item(-1).step_labels() == [True, True, True]
    assert item(1).step_labels() == [True, False]
    assert item(0).step_labels() == [False]
