import math

import pytest

from prmgym.rewards.evaluation.metrics import (
    FAILED,
    best_threshold,
    first_error_metrics,
    predicted_first_error,
    threshold_sweep,
)


def test_predicted_first_error_is_the_first_value_below_the_threshold():
    assert predicted_first_error([0.9, 0.4, 0.1], 0.5) == 1
    assert predicted_first_error([0.9, 0.8], 0.5) == -1
    assert predicted_first_error([0.5, 0.2], 0.5) == 1, "a value at the threshold is not wrong"
    assert predicted_first_error([], 0.5) == -1


def test_hand_computed_f1():
    # 3 erroneous items, 2 found exactly; 2 correct items, 1 predicted -1.
    gold = [2, 0, 1, -1, -1]
    predicted = [2, 0, 3, -1, 0]
    metrics = first_error_metrics(predicted, gold)
    assert metrics["acc_erroneous"] == pytest.approx(2 / 3)
    assert metrics["acc_correct"] == pytest.approx(1 / 2)
    assert metrics["f1"] == pytest.approx(4 / 7)
    assert (metrics["n"], metrics["n_erroneous"], metrics["n_correct"]) == (5, 3, 2)


def test_an_early_or_late_prediction_is_wrong_and_only_exact_counts():
    metrics = first_error_metrics([1, 3, 2], [2, 2, 2])
    assert metrics["acc_erroneous"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("predicted", [[0, 0, 0, 0], [-1, -1, -1, -1]])
def test_flagging_everything_or_nothing_scores_zero_f1(predicted):
    metrics = first_error_metrics(predicted, [0, 1, -1, -1])
    assert metrics["f1"] == 0.0


def test_a_class_without_items_has_no_accuracy():
    metrics = first_error_metrics([1, 2], [1, 2])
    assert metrics["acc_erroneous"] == 1.0
    assert math.isnan(metrics["acc_correct"]) and math.isnan(metrics["f1"])


def test_failed_items_are_never_right():
    metrics = first_error_metrics([FAILED, FAILED], [-1, 0])
    assert metrics["acc_erroneous"] == 0.0 and metrics["acc_correct"] == 0.0


def test_lengths_must_match():
    with pytest.raises(ValueError, match="2 predictions but 1 gold"):
        first_error_metrics([0, 1], [0])


def test_threshold_sweep_and_best_threshold():
    values = [[0.9, 0.3], [0.9, 0.6], None]
    gold = [1, -1, -1]
    sweep = threshold_sweep(values, gold, [0.2, 0.5, 0.7])
    assert [row["threshold"] for row in sweep] == [0.2, 0.5, 0.7]
    # 0.2: nothing flagged -> acc_err 0; 0.5: item 0 right, item 1 right, item 2 failed.
    assert sweep[0]["f1"] == 0.0
    assert sweep[1]["acc_erroneous"] == 1.0 and sweep[1]["acc_correct"] == 0.5
    assert sweep[2]["acc_correct"] == 0.0
    assert best_threshold(sweep)["threshold"] == 0.5


def test_best_threshold_prefers_the_earlier_row_on_ties_and_skips_nan():
    rows = [
        {"threshold": 0.1, "f1": math.nan},
        {"threshold": 0.2, "f1": 0.5},
        {"threshold": 0.3, "f1": 0.5},
    ]
    assert best_threshold(rows)["threshold"] == 0.2
    with pytest.raises(ValueError, match="empty sweep"):
        best_threshold([])
