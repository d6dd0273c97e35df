"""How a trajectory reads as text to a model that scores it.

Judges and learned PRMs see the same rendering: the task's instruction as the prompt, then one
block per step holding the action and the start of its observation. Learned PRMs tokenize each
block separately and append the step separator, so a step's score is read at a known token
position however the text itself is spelled (TRL's PRM format: prompt, completions, labels).
"""

from __future__ import annotations

from dataclasses import dataclass

from prmgym.trajectory import Step, Trajectory

STEP_SEPARATOR = "\n\n"
"""Ends every step block; a learned PRM reads the step's score at its last token."""

OBSERVATION_CHARS = 400
"""How much of each observation a scorer sees; the start holds what a step achieved."""


@dataclass(frozen=True)
class RenderedTrajectory:
    """A trajectory as text: the prompt and one block per step (separator not included)."""

    prompt: str
    steps: list[str]


def render_prompt(trajectory: Trajectory) -> str:
    """The text a scorer reads before the first step: the task as the agent saw it."""
    return f"Task: {trajectory.task.instruction.strip()}\n\n"


def render_step(step: Step, observation_chars: int = OBSERVATION_CHARS) -> str:
    """One step as a block: the action, then the start of the observation (if any)."""
    text = f"Action: {step.action.strip()}"
    observation = step.observation.strip()
    if observation:
        cut = observation[:observation_chars]
        more = " [...]" if len(observation) > observation_chars else ""
        text += f"\nResult: {cut}{more}"
    return text


def render_action(action: str) -> str:
    """A candidate next action that has not run yet: the action without a result."""
    return f"Action: {action.strip()}"


def render_trajectory(
    trajectory: Trajectory, observation_chars: int = OBSERVATION_CHARS
) -> RenderedTrajectory:
    """The prompt and every step block of ``trajectory``."""
    return RenderedTrajectory(
        prompt=render_prompt(trajectory),
        steps=[render_step(step, observation_chars) for step in trajectory.steps],
    )
