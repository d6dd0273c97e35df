"""Labelled trajectories -> rows in TRL's PRM format: {prompt, completions, labels}.

The text is the scorers' own rendering (:mod:`prmgym.rewards.render`), so a learned PRM is
trained on exactly what it reads at test time: ``prompt`` is the rendered task and each
completion is one step block. Labels are booleans (TRL casts them to 0/1 token labels). Steps
after the first bad one are dropped: once a step is wrong, whether later steps are "right" is
ill-defined (ProcessBench's convention, as in
:class:`~prmgym.rewards.evaluation.labeled.LabeledTrajectory`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.rewards.render import OBSERVATION_CHARS, render_trajectory
from prmgym.training.prm.labels import hard_labels
from prmgym.trajectory import Trajectory


def prm_row(
    trajectory: Trajectory,
    labels: Sequence[bool | float],
    observation_chars: int = OBSERVATION_CHARS,
) -> dict[str, Any]:
    """One TRL PRM row from a trajectory and one label per step.

    Args:
        trajectory: The episode.
        labels: One per step: booleans, or soft labels in [0, 1] made hard with
            Math-Shepherd's rule (good when > 0).
        observation_chars: Characters of each observation kept in the step blocks.

    Returns:
        ``{"prompt": str, "completions": list[str], "labels": list[bool]}`` ending at the
        first bad step (included), and ``"actions"``: the action strings of the kept steps.
    """
    if len(labels) != len(trajectory.steps):
        raise ValueError(f"{len(labels)} labels for {len(trajectory.steps)} steps; need one each")
    good = hard_labels([float(label) for label in labels])
    keep = good.index(False) + 1 if False in good else len(good)
    rendered = render_trajectory(trajectory, observation_chars)
    return {
        "prompt": rendered.prompt,
        "completions": rendered.steps[:keep],
        "labels": good[:keep],
        "actions": [step.action for step in trajectory.steps[:keep]],
    }


def rows_from_labeled(
    items: Iterable[LabeledTrajectory], observation_chars: int = OBSERVATION_CHARS
) -> list[dict[str, Any]]:
    """TRL PRM rows from trajectories whose first wrong step is known (empty ones skipped)."""
    rows = []
    for item in items:
        labels = item.step_labels()
        if labels:
            steps = item.trajectory.steps[: len(labels)]
            prefix = item.trajectory.model_copy(update={"steps": steps})
            rows.append(prm_row(prefix, labels, observation_chars))
    return rows
