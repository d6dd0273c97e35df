import pytest
from transformers import AutoTokenizer
from trl.experimental.prm import PRMTrainer

from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.rewards.render import STEP_SEPARATOR, render_step
from prmgym.task import Task
from prmgym.training.prm.dataset import prm_row, rows_from_labeled
from prmgym.training.prm.token_trainer import IGNORE_INDEX, tokenize_prm_row
from prmgym.trajectory import Step, Trajectory


def make_trajectory(n_steps):
    steps = [
        Step(index=i, action=f'search("q{i}")', observation=f"results for q{i} " * 10)
        for i in range(n_steps)
    ]
    return Trajectory(task=Task(id="t", family="search", instruction="Find it?"), steps=steps)


def test_steps_after_the_first_error_are_dropped():
    item = LabeledTrajectory(trajectory=make_trajectory(4), first_error=1, kind="wrong_args")
    (row,) = rows_from_labeled([item], observation_chars=20)
    assert row["prompt"] == "Task: Find it?\n\n"
    assert row["labels"] == [True, False]
    assert row["completions"] == [render_step(s, 20) for s in item.trajectory.steps[:2]]
    assert row["actions"] == ['search("q0")', 'search("q1")']


def test_correct_trajectories_keep_every_step():
    item = LabeledTrajectory(trajectory=make_trajectory(3), first_error=-1)
    (row,) = rows_from_labeled([item])
    assert row["labels"] == [True, True, True]
    assert len(row["completions"]) == 3


def test_soft_labels_are_made_hard_math_shepherd_style():
    row = prm_row(make_trajectory(4), [0.5, 0.25, 0.0, 1.0])
    assert row["labels"] == [True, True, False]


def test_label_count_must_match():
    with pytest.raises(ValueError, match="one each"):
        prm_row(make_trajectory(2), [True])


def test_tokenized_row_matches_trl_when_it_fits(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    item = LabeledTrajectory(trajectory=make_trajectory(3), first_error=2)
    (row,) = rows_from_labeled([item], observation_chars=30)
    ours = tokenize_prm_row(tokenizer, row, max_length=10_000)
    trl = PRMTrainer.tokenize_row(row, tokenizer, STEP_SEPARATOR, None, None, False, False)
    assert ours == trl
    assert [label for label in ours["labels"] if label != IGNORE_INDEX] == [1, 1, 0]


def test_long_rows_lose_prompt_tokens_not_step_labels(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trajectory = make_trajectory(2).model_copy(
        update={"task": Task(id="t", family="search", instruction="long question " * 40)}
    )
    row = prm_row(trajectory, [True, False], observation_chars=30)
    full = tokenize_prm_row(tokenizer, row, max_length=10_000)
    cut = tokenize_prm_row(tokenizer, row, max_length=len(full["input_ids"]) - 50)
    assert len(cut["input_ids"]) == len(full["input_ids"]) - 50
    assert cut["input_ids"][-30:] == full["input_ids"][-30:]
    assert [label for label in cut["labels"] if label != IGNORE_INDEX] == [1, 0]
