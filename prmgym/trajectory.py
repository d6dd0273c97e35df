"""Step, StepScore and Trajectory: what an episode leaves behind.

A Trajectory is the unit every later part consumes: PRMs score its steps, the trainer turns
it into advantages, reports render it. It round-trips through JSONL without loss, so a run
directory is enough to re-score, re-plot or train from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prmgym.task import Task

StepLabel = Literal["ok", "correctable", "fatal", "unknown"]
"""DataPRM's ternary verdict (1 / 0.5 / 0) plus ``unknown`` when a scorer cannot tell."""


class StepScore(BaseModel):
    """A process score for one step.

    Attributes:
        value: Probability that the step is good, in [0, 1].
        label: Ternary verdict: ``ok`` (1), ``correctable`` (0.5), ``fatal`` (0), or ``unknown``.
        rationale: Why, in a sentence a person can check.
        source: Which scorer produced it, e.g. ``"search-verifier"``.
    """

    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0.0, le=1.0)
    label: StepLabel = "unknown"
    rationale: str = ""
    source: str = ""


class Candidate(BaseModel):
    """An action a test-time search weighed for a step (kept for analysis and PRM training).

    Attributes:
        action: The candidate action string.
        score: The PRM's score of it, None when it was rejected before scoring.
        rejected: Why it was dropped before scoring (a failed hard rule), or None.
        chosen: Whether it was the action executed.
    """

    model_config = ConfigDict(extra="forbid")

    action: str
    score: StepScore | None = None
    rejected: str | None = None
    chosen: bool = False


class Step(BaseModel):
    """One agent action and what the env answered.

    Attributes:
        index: 0-based position in the episode.
        action: The action string given to the env (already parsed from the completion).
        observation: The observation the env returned.
        completion: The raw model output the action was parsed from ("" for scripted agents).
        tool: The parsed tool name (``search``, ``open``...), None when unparseable.
        args: The parsed tool arguments.
        action_error: None, or why the env rejected the action.
        reward: The env's own reward for this step.
        scores: Process scores given to this step, one per scorer.
        candidates: The alternatives a test-time search weighed at this step (empty without
            search), the executed one marked ``chosen``.
    """

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0)
    action: str
    observation: str
    completion: str = ""
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    action_error: str | None = None
    reward: float = 0.0
    scores: list[StepScore] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)


class Accounting(BaseModel):
    """Compute spent on an episode, so methods can be compared at equal compute.

    Attributes:
        prompt_tokens: Prompt tokens the policy's generate calls read.
        completion_tokens: Tokens the policy generated (every candidate and draft).
        llm_calls: Batched generate calls this episode took part in.
        prm_calls: PRM invocations: one per batched ``score`` or ``score_candidates`` call,
            however many steps or candidates it scored.
        env_steps: Env steps taken, including lookahead and beam branches and the replays of
            envs without snapshots.
        actions_sampled: Candidate actions the policy drew (one per step without search).
        wall_time_s: Wall-clock seconds from reset to the last score.
    """

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    prm_calls: int = 0
    env_steps: int = 0
    actions_sampled: int = 0
    wall_time_s: float = 0.0


class Trajectory(BaseModel):
    """A whole episode.

    Attributes:
        task: The task the episode ran.
        agent: Name of the policy that acted.
        steps: The steps, in order.
        outcome_reward: The env's verifiable outcome (sum of env rewards).
        success: Whether the outcome counts as solved.
        terminated: The episode ended by the env's own rule (e.g. an answer).
        truncated: The episode hit its step limit.
        error: Set when the episode broke (backend failure, crash); such episodes are data,
            kept out of training updates and reported, never raised through the batch.
        metrics: Outcome metrics beyond success (e.g. ``f1``).
        accounting: Compute spent.
        seed: The reset seed, when one was used.
    """

    model_config = ConfigDict(extra="forbid")

    task: Task
    agent: str = ""
    steps: list[Step] = Field(default_factory=list)
    outcome_reward: float = 0.0
    success: bool = False
    terminated: bool = False
    truncated: bool = False
    error: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    accounting: Accounting = Field(default_factory=Accounting)
    seed: int | None = None

    def record(
        self,
        action: str,
        observation: str,
        reward: float,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
        completion: str = "",
    ) -> Step:
        """Append the step an ``env.step(action)`` produced and update the episode's totals."""
        step = Step(
            index=len(self.steps),
            action=action,
            observation=observation,
            completion=completion,
            tool=info.get("tool"),
            action_error=info.get("action_error"),
            reward=float(reward),
        )
        self.steps.append(step)
        self.outcome_reward += float(reward)
        self.terminated, self.truncated = bool(terminated), bool(truncated)
        self.accounting.env_steps += 1
        return step


def save_trajectories(trajectories: Iterable[Trajectory], path: str | Path) -> None:
    """Write trajectories as JSONL, one per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for trajectory in trajectories:
            fh.write(trajectory.model_dump_json() + "\n")


def load_trajectories(path: str | Path) -> list[Trajectory]:
    """Read trajectories written by :func:`save_trajectories`."""
    with Path(path).open(encoding="utf-8") as fh:
        return [Trajectory.model_validate_json(line) for line in fh if line.strip()]
