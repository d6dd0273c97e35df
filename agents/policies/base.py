"""Policy: what acts in an episode.

A policy receives every live episode at once and returns one decision each, so an LLM policy
can put all of them into a single batched generate call. ``EpisodeView.task`` carries the
privileged data only because scripted oracles need it; LLM policies read the observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prmgym.task import Task


@dataclass
class EpisodeView:
    """What a policy sees of one live episode."""

    task: Task
    family: str
    observations: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    seed: int = 0


@dataclass
class Decision:
    """A policy's next action for one episode, with what producing it cost."""

    action: str
    completion: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    prm_calls: int = 0
    samples: int = 1


class Policy(Protocol):
    """Decides the next action of every live episode in one call."""

    name: str

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """One decision per episode, in order."""
        ...


class SamplingPolicy(Policy, Protocol):
    """A policy that can also draw ``k`` candidate actions per episode (for test-time search)."""

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """``k`` candidate decisions per episode, in order, from one batched call."""
        ...
