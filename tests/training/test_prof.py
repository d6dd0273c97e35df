from pathlib import Path

import pytest

from prmgym.errors import ConfigError
from prmgym.task import Task
from prmgym.training.advantages import dual_granularity_advantages
from prmgym.training.config import AdvantageConfig, load_train_config
from prmgym.training.prof import kept_count, mean_process_score, prof_filter
from prmgym.training.trainer import group_advantages, train
from prmgym.trajectory import Step, StepScore, Trajectory

HERE = Path(__file__).parent
TASK = Task(id="t", family="search", instruction="q?")


def rollout(scores, success, error=None, source="prm"):
    """A rollout whose step t was scored ``scores[t]`` by ``source``; outcome = success."""
    steps = [
        Step(
            index=t,
            action=f"a{t}()",
            observation=f"o{t}",
            scores=[StepScore(value=v, source=source)],
        )
        for t, v in enumerate(scores)
    ]
    return Trajectory(
        task=TASK, steps=steps, success=success, outcome_reward=float(success), error=error
    )


def test_mean_process_score_reads_the_prm_and_its_latest_score():
    r = rollout([0.9, 0.6], True)
    r.steps[0].scores.append(StepScore(value=0.3, source="prm"))  # rescored: latest counts
    r.steps[1].scores.append(StepScore(value=0.0, source="other"))
    assert mean_process_score(r, "prm") == pytest.approx((0.3 + 0.6) / 2)
    assert mean_process_score(rollout([], True), "prm") == 0.0
    with pytest.raises(ValueError, match="no score from prm source 'judge'"):
        mean_process_score(r, "judge")


def test_kept_count_rounds_up_without_float_error():
    assert kept_count(3, 0.5) == 2
    assert kept_count(4, 0.5) == 2
    assert kept_count(10, 0.7) == 7  # 0.7 * 10 is 7.000000000000001 in floats
    assert kept_count(1, 0.1) == 1  # a class is never emptied
    assert kept_count(0, 0.5) == 0
    assert kept_count(5, 1.0) == 5


def test_drops_the_least_consistent_of_each_class_by_hand():
    group = [
        rollout([0.9, 0.7], True),  # 0: correct, mean 0.8 -> kept
        rollout([0.2, 0.4], True),  # 1: correct, mean 0.3 -> dropped (lowest)
        rollout([0.6], True),  # 2: correct, mean 0.6 -> kept
        rollout([0.9, 0.9], False),  # 3: failed, mean 0.9 -> dropped (highest)
        rollout([0.1, 0.3], False),  # 4: failed, mean 0.2 -> kept
        rollout([0.5], False),  # 5: failed, mean 0.5 -> kept
    ]
    # ceil(0.5 * 3) = 2 of each class
    assert prof_filter(group, prm="prm", keep=0.5) == [0, 2, 4, 5]
    # ceil(1/3 * 3) = 1: the single most consistent of each class
    assert prof_filter(group, prm="prm", keep=1 / 3) == [0, 4]
    assert prof_filter(group, prm="prm", keep=1.0) == [0, 1, 2, 3, 4, 5]


def test_the_correct_to_failed_proportion_is_kept():
    correct = [rollout([v], True) for v in (0.1, 0.9, 0.5, 0.7)]  # indices 0-3
    failed = [rollout([v], False) for v in (0.8, 0.2)]  # indices 4-5
    kept = prof_filter(correct + failed, prm="prm", keep=0.5)
    # 4 correct : 2 failed becomes 2 : 1 -- the two most supported successes (0.9, 0.7) and
    # the least supported failure (0.2)
    assert kept == [1, 3, 5]


def test_a_one_class_group_is_filtered_within_that_class():
    failed = [rollout([v], False) for v in (0.4, 0.1, 0.8, 0.3)]
    assert prof_filter(failed, prm="prm", keep=0.5) == [1, 3]
    correct = [rollout([v], True) for v in (0.4, 0.1, 0.8, 0.3)]
    assert prof_filter(correct, prm="prm", keep=0.5) == [0, 2]


def test_ties_keep_the_earlier_rollout():
    group = [
        rollout([0.5], True),
        rollout([0.5], True),
        rollout([0.2, 0.8], False),  # mean 0.5
        rollout([0.5], False),
    ]
    assert prof_filter(group, prm="prm", keep=0.5) == [0, 2]
    assert prof_filter(group[::-1], prm="prm", keep=0.5) == [0, 2]


def test_broken_episodes_are_never_kept_nor_counted():
    group = [
        rollout([1.0], True, error="sandbox crashed"),  # best score of all, but broken
        rollout([0.6], True),
        rollout([0.0], False, error="backend timeout"),
        rollout([0.3], False),
    ]
    # one valid rollout per class: ceil(0.5 * 1) = 1 keeps each
    assert prof_filter(group, prm="prm", keep=0.5) == [1, 3]
    assert prof_filter(group[::2], prm="prm", keep=0.5) == []


def test_bad_keep_is_rejected_saying_how_to_fix():
    with pytest.raises(ConfigError, match=r"in \(0, 1\]"):
        prof_filter([rollout([0.5], True)], prm="prm", keep=0.0)
    with pytest.raises(ConfigError, match="prof_keep is a share in"):
        AdvantageConfig(prof_keep=1.5)
    with pytest.raises(ConfigError, match="set rollout.prm"):
        load_train_config(None, ["rollout.prm=null", "advantages.prof_keep=0.5"])


def test_off_by_default_and_loaded_from_yaml(tmp_path):
    assert AdvantageConfig().prof_keep is None
    path = tmp_path / "train.yaml"
    path.write_text("advantages: {prof_keep: 0.25}\n", encoding="utf-8")
    assert load_train_config(path).advantages.prof_keep == 0.25
    assert load_train_config(path, ["advantages.prof_keep=null"]).advantages.prof_keep is None
    group = [rollout([0.9], True), rollout([0.1], True), rollout([0.4], False)]
    settings = AdvantageConfig(omega=0.5, normalize="none")
    advantages, dropped = group_advantages(group, settings, "prm")
    assert dropped == 0
    assert advantages == dual_granularity_advantages(group, prm="prm", omega=0.5, normalize="none")


def test_trainer_advantages_leave_out_what_prof_dropped():
    group = [
        rollout([0.9, 0.9], True),  # 0: kept
        rollout([0.1, 0.2], True),  # 1: dropped (least supported success)
        rollout([0.5], True),  # 2: kept
        rollout([0.4, 0.4], False),  # 3: kept (the only failure)
        rollout([0.5], False, error="crashed"),  # 4: broken
    ]
    settings = AdvantageConfig(omega=0.0, normalize="none", prof_keep=0.5)
    advantages, dropped = group_advantages(group, settings, "prm")
    # kept outcomes [1, 1, 0]: mean 2/3, so 1/3, 1/3 and -2/3; the dropped rollout gets a zero
    # on each step (the update skips it) and is no part of the baseline (without PROF the mean
    # would be 3/4)
    assert dropped == 1
    assert advantages[1] == [0.0, 0.0]
    assert advantages[4] == []
    assert advantages[0] == pytest.approx([1 / 3, 1 / 3])
    assert advantages[2] == pytest.approx([1 / 3])
    assert advantages[3] == pytest.approx([-2 / 3, -2 / 3])
    unfiltered, _ = group_advantages(group, AdvantageConfig(omega=0.0, normalize="none"), "prm")
    assert unfiltered[1] == pytest.approx([0.25, 0.25])
    assert unfiltered[3] == pytest.approx([-0.75, -0.75])


@pytest.mark.slow
def test_a_training_run_drops_and_counts(tiny_model_dir, tmp_path, monkeypatch, tiny_settings):
    monkeypatch.syspath_prepend(str(HERE))
    overrides = tiny_settings(
        tiny_model_dir, tmp_path, "iterations=1", "rollout.group_size=4", "advantages.prof_keep=0.5"
    )
    result = train(load_train_config(None, overrides))
    line = result.metrics[1]
    # A random tiny model solves nothing: each task's 4 failures keep ceil(0.5 * 4) = 2
    assert line["rollout/success"] == 0 and line["rollout/broken"] == 0
    assert line["rollout/episodes"] == 8
    assert line["rollout/prof_dropped"] == 4
