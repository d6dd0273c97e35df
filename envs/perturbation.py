"""Perturbation: an action list made wrong at a known step, for PRM evaluation and training.

Each family has a ``perturbations`` module that turns its oracle's action list into these
(``prmgym.envs.search.perturbations``, and likewise for data, swe and web) and declares its
:class:`FamilyPerturbations` as the ``perturbations`` piece of its family;
``prmgym.rewards.evaluation.first_error`` plays them through the real env to build labelled
trajectories.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prmgym.task import Task


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


Perturber = Callable[[Any, Task, str, random.Random], Perturbation | None]
"""``(unwrapped env, task, kind, rng) -> perturbation``, or None where the task admits none."""


@dataclass(frozen=True)
class FamilyPerturbations:
    """How one family's oracle lists are perturbed (a family's ``perturbations`` piece).

    Attributes:
        perturb: Makes one perturbation of a kind for a task.
        kinds: The kinds it makes; ``none`` (the unperturbed oracle) must be one of them.
    """

    perturb: Perturber
    kinds: tuple[str, ...]
