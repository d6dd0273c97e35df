"""LabeledTrajectory: a trajectory whose first wrong step is known.

This is ProcessBench's labelling (the index of the earliest wrong step, or -1 when every step
is right), carried on real env trajectories. Steps after the first error are not labelled: once
a step is wrong, whether later steps are "right" is ill-defined, so neither metrics nor PRM
training read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from prmgym.jsonl import read_json_objects
from prmgym.trajectory import Trajectory


class LabeledTrajectory(BaseModel):
    """A trajectory plus the index of its first wrong step.

    Attributes:
        trajectory: The steps, with the observations the env really returned.
        first_error: 0-based index of the earliest wrong step; -1 when all steps are right.
        kind: How the error was made (``"wrong_args"``, ``"wrong_answer"``, ``"repeat"``...),
            ``"none"`` for correct trajectories; metrics can be broken down by it.
    """

    trajectory: Trajectory
    first_error: int = Field(ge=-1)
    kind: str = "none"

    def step_labels(self) -> list[bool]:
        """Labels of the labelled steps: True up to the first error, False at it, then none."""
        if self.first_error < 0:
            return [True] * len(self.trajectory.steps)
        return [True] * self.first_error + [False]


def save_labeled(items: Iterable[LabeledTrajectory], path: str | Path) -> Path:
    """Write labelled trajectories as JSONL, one per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(item.model_dump_json() + "\n")
    return path


def load_labeled(path: str | Path) -> list[LabeledTrajectory]:
    """Read labelled trajectories written by :func:`save_labeled`."""
    return [
        LabeledTrajectory.model_validate(obj)
        for _, obj in read_json_objects(path, "labelled trajectory")
    ]
