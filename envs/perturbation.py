"""Perturbation: an action list made wrong at a known step, for PRM evaluation and training.

Each family has a ``perturbations`` module that turns its oracle's action list into these
(``prmgym.envs.search.perturbations``, and likewise for data, swe and web);
``prmgym.rewards.evaluation.first_error`` plays them through the real env to build labelled
trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Perturbation:
    """An action list and the index of its first wrong step (family-agnostic).

    Every family's perturbation module returns it; the evaluation code in ``rewards`` plays
    it through the env (imports point down the layers only).

    Attributes:
        actions: The action strings to play, in order.
        first_error: 0-based index of the earliest wrong action; -1 when all are right.
        kind: How it was made (``none``, ``wrong_args``, ``wrong_answer``, ``repeat``...).
    """

    actions: tuple[str, ...]
    first_error: int
    kind: str
