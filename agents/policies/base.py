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
    partial: bool = False
    """A draft cut at the early-rejection budget that still needs completing.

    Its ``completion`` is the text so far and its ``action`` what that text says so far; a
    :class:`PrefixPolicy` turns it into a full decision with ``complete``.
    """
    env_steps: int = 0


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


class PrefixPolicy(SamplingPolicy, Protocol):
    """A sampling policy that can draft the first tokens of actions and complete them later.

    Early rejection in test-time search: draft ``k`` actions per episode cut after ``tau``
    tokens, score the partial actions, and spend the rest of the token budget only on the
    drafts worth completing.
    """

    def sample_prefixes(
        self, episodes: Sequence[EpisodeView], k: int, tau: int
    ) -> list[list[Decision]]:
        """``k`` drafts per episode of at most ``tau`` new tokens each, from one batched call.

        Args:
            episodes: The live episodes.
            k: Drafts per episode.
            tau: Most tokens per draft (the early-rejection budget).

        Returns:
            One list of ``k`` decisions per episode, in order. A draft the budget cut short has
            ``partial=True``; one that ended on its own within it is already a full decision.
        """
        ...

    def complete(
        self, episodes: Sequence[EpisodeView], prefixes: Sequence[Sequence[Decision]]
    ) -> list[list[Decision]]:
        """Finish every partial draft by continuing its text, in one batched call.

        Args:
            episodes: The live episodes.
            prefixes: Per episode, the drafts to finish (any subset of ``sample_prefixes``'s).

        Returns:
            The same shape as ``prefixes``: partial drafts replaced by full decisions whose
            ``completion`` starts with the draft's, non-partial ones returned unchanged.
        """
        ...
