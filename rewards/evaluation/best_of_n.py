"""Best-of-N selection: does a PRM pick the successful trajectory among N samples?

Trajectories are grouped by task id; each one's step values (from a PRM, or from scores already
stored on its steps) are combined into one number with
:func:`~prmgym.rewards.aggregation.aggregate_steps`, and the highest-scoring trajectory of each
group is selected. The selected success rate is compared with two bounds: the mean success rate
(what a random pick gets in expectation) and the oracle rate (a group counts when any of its
trajectories succeeded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import StepAggregation, aggregate_steps
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.evaluation.first_error import LiveEnvs
from prmgym.trajectory import Trajectory


@dataclass(frozen=True)
class BestOfNReport:
    """Best-of-N results.

    Attributes:
        selected_success: Success rate of the selected trajectories (ties between top scores
            are counted as a uniform random pick among them, in expectation).
        mean_success: Mean per-group success rate: a random pick's expected success.
        oracle_success: Share of groups where any trajectory succeeded: the ceiling.
        groups: Number of task groups.
        n: Mean number of trajectories per group.
        picks: Task id -> index (into the given trajectories) of the selected one; the first of
            tied top scores.
    """

    selected_success: float
    mean_success: float
    oracle_success: float
    groups: int
    n: float
    picks: dict[str, int]


def stored_values(trajectory: Trajectory, source: str) -> list[float]:
    """Step values already stored on a trajectory's steps by the scorer named ``source``.

    The last score from that source counts, so a re-scored trajectory uses its newest scores.

    Raises:
        ConfigError: A step has no score from ``source``.
    """
    values = []
    for step in trajectory.steps:
        found = [score.value for score in step.scores if score.source == source]
        if not found:
            present = sorted({score.source for score in step.scores}) or ["none"]
            raise ConfigError(
                f"step {step.index} of the trajectory for task {trajectory.task.id} has no score"
                f" from {source!r} (it has: {', '.join(present)}); score the trajectories with"
                " that PRM first, or pass prm= to score them here"
            )
        values.append(found[-1])
    return values


def best_of_n(
    trajectories: Sequence[Trajectory],
    *,
    prm: ProcessRewardModel | None = None,
    source: str | None = None,
    how: StepAggregation = "min",
    temperature: float = 0.1,
    envs: LiveEnvs | None = None,
) -> BestOfNReport:
    """Select the best trajectory per task by aggregated step values and report success.

    Args:
        trajectories: Samples, several per task id.
        prm: Scores each trajectory here (env-aware PRMs get a live env from ``envs``).
        source: Instead of ``prm``: read the scores stored on steps by this scorer.
        how: Step aggregation (``last``, ``min``, ``product``, ``mean``, ``soft_min``).
        temperature: Soft-min temperature.
        envs: Live envs for an env-aware ``prm``; trajectories whose task names no env get
            ``env=None``.

    Returns:
        The report. A trajectory without steps scores below every other one.

    Raises:
        ConfigError: Neither or both of ``prm`` and ``source`` given, no trajectories, or a
            step lacking a stored score.
    """
    if (prm is None) == (source is None):
        raise ConfigError("give exactly one of prm= (score here) or source= (stored scores)")
    if not trajectories:
        raise ConfigError("best_of_n needs trajectories; got none")
    groups: dict[str, list[int]] = {}
    for position, trajectory in enumerate(trajectories):
        groups.setdefault(trajectory.task.id, []).append(position)
    scores: list[float] = []
    for trajectory in trajectories:
        if prm is not None:
            env = envs.reset_to(trajectory.task) if envs is not None else None
            values = [score.value for score in prm.score(trajectory, env)]
        else:
            assert source is not None
            values = stored_values(trajectory, source)
        scores.append(aggregate_steps(values, how, temperature) if values else -math.inf)
    selected, mean, oracle, picks = [], [], [], {}
    for task_id, members in groups.items():
        top = max(scores[i] for i in members)
        tied = [i for i in members if scores[i] == top]
        picks[task_id] = tied[0]
        selected.append(fmean(trajectories[i].success for i in tied))
        mean.append(fmean(trajectories[i].success for i in members))
        oracle.append(float(any(trajectories[i].success for i in members)))
    return BestOfNReport(
        selected_success=fmean(selected),
        mean_success=fmean(mean),
        oracle_success=fmean(oracle),
        groups=len(groups),
        n=len(trajectories) / len(groups),
        picks=picks,
    )
