"""Evaluating a PRM on first-error detection: score every item, then ProcessBench's metrics.

``evaluate_first_error`` scores each labelled trajectory with the PRM (env-aware PRMs get a
live env reset to the item's task; text-only items such as ProcessBench get ``env=None``),
turns the step values into a predicted first error at the threshold, and reports accuracy on
erroneous and correct items and their F1 (arXiv 2412.06559), overall and per error kind, plus
a threshold sweep. A PRM that raises on an item, or returns the wrong number of scores, is
counted as failed on it and predicted wrong; the run goes on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.table import Table

from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.evaluation.first_error import LiveEnvs
from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.rewards.evaluation.metrics import (
    DEFAULT_THRESHOLDS,
    best_threshold,
    first_error_metrics,
    predictions,
    threshold_sweep,
)

_MAX_FAILURE_MESSAGES = 5


@dataclass
class FirstErrorReport:
    """What :func:`evaluate_first_error` measured.

    Attributes:
        prm: The PRM's name.
        threshold: The threshold ``overall`` and ``per_kind`` were computed at.
        overall: ``acc_erroneous``, ``acc_correct``, ``f1`` and counts over all items.
        per_kind: The same per item kind (``none``, ``wrong_args``...); a kind holding only
            erroneous items has NaN ``acc_correct`` and F1.
        sweep: Overall metrics at each swept threshold.
        best: The sweep row with the highest F1.
        predicted: Predicted first error per item (-2 where the PRM failed).
        failed: Items the PRM failed on.
        failures: The first few failure messages, naming the item's task.
        seconds: Wall time spent scoring the items (the PRM's cost, env resets included).
        judge_prompts: Prompts the PRM's LLM judge was sent (0 for unjudged PRMs); cached
            answers are not counted.
    """

    prm: str
    threshold: float
    overall: dict[str, float]
    per_kind: dict[str, dict[str, float]]
    sweep: list[dict[str, float]]
    best: dict[str, float]
    predicted: list[int]
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    judge_prompts: int = 0


def _judge_prompts(prm: ProcessRewardModel) -> int:
    stats = getattr(getattr(prm, "judge", None), "stats", None)
    return int(getattr(stats, "prompts", 0))


def _score_item(prm: ProcessRewardModel, item: LabeledTrajectory, envs: LiveEnvs) -> list[float]:
    trajectory = item.trajectory
    scores = prm.score(trajectory, envs.reset_to(trajectory.task))
    if len(scores) != len(trajectory.steps):
        raise ValueError(f"{len(scores)} scores for {len(trajectory.steps)} steps")
    return [score.value for score in scores]


def evaluate_first_error(
    prm: ProcessRewardModel,
    items: Sequence[LabeledTrajectory],
    threshold: float = 0.5,
    thresholds: Sequence[float] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> FirstErrorReport:
    """Score every item with ``prm`` and report first-error detection metrics.

    Args:
        prm: The PRM under test.
        items: Labelled trajectories (from ``build_first_error_set``, ``load_processbench``...).
        threshold: A step below this value is predicted wrong.
        thresholds: Thresholds to sweep; default 0.05 to 0.95 in steps of 0.05.
        progress: Called with the number of items done after each one (progress bars).

    Returns:
        The report; items the PRM failed on are counted in ``failed`` and predicted wrong.
    """
    values_per_item: list[list[float] | None] = []
    failures: list[str] = []
    prompts_before = _judge_prompts(prm)
    started = time.perf_counter()
    # One live env per env spec, reused across items.
    with LiveEnvs() as envs:
        for done, item in enumerate(items, start=1):
            try:
                values_per_item.append(_score_item(prm, item, envs))
            except Exception as exc:  # noqa: BLE001 - a PRM failing on one item is data
                values_per_item.append(None)
                failures.append(f"{item.trajectory.task.id}: {exc!r}")
            if progress is not None:
                progress(done)
    seconds = time.perf_counter() - started
    gold = [item.first_error for item in items]
    predicted = predictions(values_per_item, threshold)
    per_kind: dict[str, dict[str, float]] = {}
    for kind in sorted({item.kind for item in items}):
        members = [i for i, item in enumerate(items) if item.kind == kind]
        per_kind[kind] = first_error_metrics(
            [predicted[i] for i in members], [gold[i] for i in members]
        )
    sweep = threshold_sweep(values_per_item, gold, thresholds or DEFAULT_THRESHOLDS)
    return FirstErrorReport(
        prm=prm.name,
        threshold=threshold,
        overall=first_error_metrics(predicted, gold),
        per_kind=per_kind,
        sweep=sweep,
        best=best_threshold(sweep),
        predicted=predicted,
        failed=len(failures),
        failures=failures[:_MAX_FAILURE_MESSAGES],
        seconds=seconds,
        judge_prompts=_judge_prompts(prm) - prompts_before,
    )


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def report_table(report: FirstErrorReport) -> Table:
    """A rich table of the report: overall and per-kind rows, and the best threshold's row."""
    table = Table(title=f"First-error detection: {report.prm} (threshold {report.threshold})")
    for column in ("items", "n", "acc erroneous", "acc correct", "F1"):
        table.add_column(column, justify="left" if column == "items" else "right")
    rows = [("all", report.overall), *((f"kind {k}", m) for k, m in report.per_kind.items())]
    best = report.best
    rows.append((f"all @ best threshold {best['threshold']}", best))
    for name, metrics in rows:
        table.add_row(
            name,
            str(int(metrics["n"])),
            _cell(metrics["acc_erroneous"]),
            _cell(metrics["acc_correct"]),
            _cell(metrics["f1"]),
        )
    cost = f"{report.seconds:.1f} s, {report.judge_prompts} judge prompts"
    failed = f"; the PRM failed on {report.failed} item(s), counted as wrong"
    table.caption = cost + (failed if report.failed else "")
    return table
