"""PROF consistency filtering: which rollouts of a task's group the policy trains on.

PROF (PRocess cOnsistency Filter, arXiv 2509.03403) uses the PRM to *select* rollouts rather
than as a reward. Within one task's group it splits the rollouts by outcome and ranks each
class by its mean PRM step score (the rollout's process consistency):

* correct rollouts with the **lowest** mean process score are dropped: right answers reached
  by steps the PRM does not support (outcome reward hacking);
* failed rollouts with the **highest** mean process score are dropped: failures the PRM calls
  sound, whose negative advantage would punish good steps.

Advantages are then computed on the rollouts that are left, as if the group held only them.

Choices this implementation makes (the paper leaves them open):

* each class keeps ``ceil(keep * size)`` of its rollouts, so the correct/failed proportion of
  the group is kept (up to rounding) and a class is never emptied: an emptied class would
  leave the group all-correct or all-failed, whose outcome advantages are zero;
* a group holding only correct (or only failed) rollouts is filtered within that class alone;
* ties in mean process score keep the earlier rollout (group order is the seeded rollout
  order, so the choice repeats);
* a rollout without steps has no process support: its mean process score is 0;
* broken episodes (``trajectory.error`` set) are never kept and never counted in a class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean

from prmgym.errors import ConfigError
from prmgym.training.advantages import step_rewards
from prmgym.trajectory import Trajectory


def mean_process_score(trajectory: Trajectory, prm: str, episode: int = 0) -> float:
    """PROF's consistency score: the mean of a rollout's step scores from ``prm``.

    Args:
        trajectory: A rollout whose steps were scored by ``prm``.
        prm: The ``StepScore.source`` to read (a step's latest score from it counts).
        episode: The rollout's position in its group, named in errors.

    Returns:
        The mean step value in [0, 1]; 0 for a rollout without steps.

    Raises:
        ValueError: A step has no score from ``prm``.
    """
    rewards = step_rewards(trajectory, episode, prm)
    return fmean(rewards) if rewards else 0.0


def kept_count(size: int, keep: float) -> int:
    """How many of a class of ``size`` rollouts PROF keeps: ``ceil(keep * size)``.

    Rounding up never empties a non-empty class. The product is rounded to 9 decimals first so
    that float error cannot round up a whole number (0.7 * 10 is 7.000000000000001).
    """
    return math.ceil(round(keep * size, 9))


def _ranked(members: list[tuple[int, float]], *, highest_first: bool) -> list[int]:
    """Indices by score (highest or lowest first), ties to the earlier index."""
    sign = -1.0 if highest_first else 1.0
    return [i for i, _ in sorted(members, key=lambda m: (sign * m[1], m[0]))]


def prof_filter(group: Sequence[Trajectory], *, prm: str, keep: float) -> list[int]:
    """PROF (arXiv 2509.03403): the rollouts of one task's group to train on.

    Correct rollouts (``success``) are ranked by mean process score and the highest-scoring
    ``ceil(keep * n_correct)`` kept; failed ones are ranked the other way and the lowest-scoring
    ``ceil(keep * n_failed)`` kept. See the module docstring for rounding, ties and one-class
    groups.

    Args:
        group: One task's rollouts, their steps scored by ``prm``.
        prm: The ``StepScore.source`` whose values are the process scores.
        keep: Share of each class kept, in (0, 1]; 0.5 keeps half.

    Returns:
        Indices into ``group`` of the kept rollouts, ascending; never a broken one.

    Raises:
        ConfigError: ``keep`` is outside (0, 1].
        ValueError: A step of a non-broken rollout has no score from ``prm``.
    """
    if not 0 < keep <= 1:
        raise ConfigError(f"PROF keep must be in (0, 1], got {keep}; 0.5 keeps half of each class")
    correct: list[tuple[int, float]] = []
    failed: list[tuple[int, float]] = []
    for i, trajectory in enumerate(group):
        if trajectory.error is None:
            score = mean_process_score(trajectory, prm, i)
            (correct if trajectory.success else failed).append((i, score))
    kept = _ranked(correct, highest_first=True)[: kept_count(len(correct), keep)]
    kept += _ranked(failed, highest_first=False)[: kept_count(len(failed), keep)]
    return sorted(kept)
