"""First-error detection metrics, as ProcessBench defines them (arXiv 2412.06559).

A PRM's step values become a prediction by thresholding: the predicted first error is the
first step whose value falls below the threshold, -1 when none does. ProcessBench then reports
accuracy on erroneous items (the earliest wrong step found exactly), accuracy on correct items
(-1 predicted for an all-right solution), and their harmonic mean, F1. A PRM that flags
everything, or nothing, scores F1 = 0.

A group with no items of one class has no accuracy for it: that entry is NaN, and so is F1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FAILED = -2
"""Prediction recorded for an item the PRM could not score; it matches no gold label."""

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
"""Thresholds swept by default: 0.05, 0.10, ..., 0.95."""


def predicted_first_error(values: Sequence[float], threshold: float) -> int:
    """The first step whose value is below ``threshold``, or -1 when none is.

    Example:
        >>> predicted_first_error([0.9, 0.7, 0.2, 0.1], threshold=0.5)
        2
        >>> predicted_first_error([0.9, 0.7], threshold=0.5)
        -1
    """
    return next((i for i, value in enumerate(values) if value < threshold), -1)


def _accuracy(hits: int, total: int) -> float:
    return hits / total if total else math.nan


def _harmonic_mean(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == 0 or b == 0:
        return 0.0
    return 2 * a * b / (a + b)


def first_error_metrics(predicted: Sequence[int], gold: Sequence[int]) -> dict[str, float]:
    """ProcessBench's accuracies and F1 for predicted first-error indices.

    Args:
        predicted: Predicted first error per item (-1: no error; :data:`FAILED`: not scored).
        gold: Gold first error per item (-1: every step right).

    Returns:
        ``acc_erroneous`` (share of gold != -1 items predicted exactly), ``acc_correct`` (share
        of gold == -1 items predicted -1), ``f1`` (their harmonic mean; 0 if either is 0),
        and the counts ``n``, ``n_erroneous``, ``n_correct``.

    Example:
        >>> m = first_error_metrics([1, 0, 2, -1, 3], [1, 0, 1, -1, -1])
        >>> round(m["acc_erroneous"], 3), m["acc_correct"], round(m["f1"], 3)
        (0.667, 0.5, 0.571)
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions but {len(gold)} gold labels")
    erroneous = [(p, g) for p, g in zip(predicted, gold, strict=True) if g != -1]
    correct = [p for p, g in zip(predicted, gold, strict=True) if g == -1]
    acc_erroneous = _accuracy(sum(p == g for p, g in erroneous), len(erroneous))
    acc_correct = _accuracy(sum(p == -1 for p in correct), len(correct))
    return {
        "acc_erroneous": acc_erroneous,
        "acc_correct": acc_correct,
        "f1": _harmonic_mean(acc_erroneous, acc_correct),
        "n": len(gold),
        "n_erroneous": len(erroneous),
        "n_correct": len(correct),
    }


def predictions(values_per_item: Sequence[Sequence[float] | None], threshold: float) -> list[int]:
    """Predicted first error of each item; None (an item the PRM failed on) gives FAILED."""
    return [
        FAILED if values is None else predicted_first_error(values, threshold)
        for values in values_per_item
    ]


def threshold_sweep(
    values_per_item: Sequence[Sequence[float] | None],
    gold: Sequence[int],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[dict[str, float]]:
    """:func:`first_error_metrics` at each threshold, one row per threshold, in order given.

    ProcessBench fixes the threshold per PRM; sweeping shows how much a PRM's F1 depends on
    that choice and which value it should be run with.

    Args:
        values_per_item: Step values of each item; None for an item the PRM failed on.
        gold: Gold first error per item.
        thresholds: Thresholds to try.

    Returns:
        Rows with ``threshold`` and the metrics.
    """
    return [
        {"threshold": t, **first_error_metrics(predictions(values_per_item, t), gold)}
        for t in thresholds
    ]


def best_threshold(sweep: Sequence[dict[str, float]]) -> dict[str, float]:
    """The sweep row with the highest F1 (NaN counts as lowest; ties go to the earlier row)."""
    if not sweep:
        raise ValueError("empty sweep: give at least one threshold")

    def key(row: dict[str, float]) -> float:
        return -math.inf if math.isnan(row["f1"]) else row["f1"]

    return max(sweep, key=key)
