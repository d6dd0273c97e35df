"""The disagreement monitor: where process scores and outcomes tell different stories.

A PRM that scores a failed episode highly is being fooled (or hacked); one that scores a solved
episode low is too harsh, and training on it would punish good behaviour. Both are counted for
every scorer in every run, next to how well the PRM's trajectory score ranks outcomes (AUROC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmgym.rewards.aggregation import StepAggregation, aggregate_steps
from prmgym.trajectory import Trajectory


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half).

    None when either class is empty (the ranking is undefined).
    """
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def disagreement(
    trajectories: Sequence[Trajectory],
    *,
    how: StepAggregation = "min",
    threshold: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """Per scorer (score ``source``): how often its verdict and the outcome disagree.

    Args:
        trajectories: Scored episodes; broken ones and ones without steps are skipped.
        how: How step values become a trajectory score (``min`` by default: one bad step
            condemns the episode).
        threshold: Trajectory scores at or above it count as "the PRM says good".

    Returns:
        For each source: ``episodes``, ``high_but_failed`` and ``low_but_solved`` (counts and
        rates among failed / solved episodes), ``agreement`` (share where the PRM's verdict
        matches the outcome) and ``auroc`` (None when all outcomes are equal).
    """
    by_source: dict[str, list[tuple[float, bool]]] = {}
    for trajectory in trajectories:
        if trajectory.error is not None or not trajectory.steps:
            continue
        values: dict[str, list[float]] = {}
        for step in trajectory.steps:
            for score in step.scores:
                values.setdefault(score.source, []).append(score.value)
        for source, vals in values.items():
            if len(vals) == len(trajectory.steps):
                by_source.setdefault(source, []).append(
                    (aggregate_steps(vals, how), trajectory.success)
                )
    report: dict[str, dict[str, Any]] = {}
    for source, pairs in sorted(by_source.items()):
        failed = [s for s, ok in pairs if not ok]
        solved = [s for s, ok in pairs if ok]
        high_failed = sum(s >= threshold for s in failed)
        low_solved = sum(s < threshold for s in solved)
        report[source] = {
            "episodes": len(pairs),
            "aggregation": how,
            "threshold": threshold,
            "high_but_failed": high_failed,
            "high_but_failed_rate": high_failed / len(failed) if failed else 0.0,
            "low_but_solved": low_solved,
            "low_but_solved_rate": low_solved / len(solved) if solved else 0.0,
            "agreement": 1 - (high_failed + low_solved) / len(pairs),
            "auroc": auroc([s for s, _ in pairs], [ok for _, ok in pairs]),
        }
    return report
