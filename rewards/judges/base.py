"""The judge contract: questions about steps in, probabilities out.

A judge answers, for a step in context, whether each of several criteria holds::

    query = JudgeQuery(context="Task: ...", step="Action: search(...)",
                       criteria=(Question("The query names the module asked about."),))
    [[p]] = judge.judge([query])  # p = P(yes) in [0, 1]

For a pitfall (``Question(text, pitfall=True)``) the judge is asked whether the step *shows*
the pitfall, so ``p`` is the probability that it does. Judges batch: one ``judge`` call sends
every query to the model in as few backend calls as fit, and answers already computed for the
same prompt are served from a cache keyed by a hash of the prompt's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from prmgym.generation import Chat


@dataclass(frozen=True)
class Question:
    """One criterion as the judge reads it."""

    text: str
    pitfall: bool = False


@dataclass(frozen=True)
class JudgeQuery:
    """A step to judge, the episode so far as context, and the criteria to judge it on."""

    context: str
    step: str
    criteria: tuple[Question, ...]


@dataclass
class JudgeStats:
    """What judging cost: prompts sent to the model, backend calls, and cache hits."""

    prompts: int = 0
    backend_calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    defaults: int = 0


@runtime_checkable
class Judge(Protocol):
    """Turns judge queries into one probability per criterion."""

    name: str
    stats: JudgeStats

    def judge(self, queries: Sequence[JudgeQuery]) -> list[list[float]]:
        """For each query, P(criterion holds) per criterion (P(pitfall shown) for pitfalls)."""
        ...


@dataclass
class JudgeCache:
    """Answers by a hash of the chat that produced them; same prompt, same answer, no call."""

    entries: dict[str, list[float]] = field(default_factory=dict)

    @staticmethod
    def key(chat: Chat, extra: str = "") -> str:
        """A content hash of a chat (and anything else that changes the answer)."""
        payload = json.dumps([chat, extra], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get(self, key: str) -> list[float] | None:
        """The cached answer, or None."""
        return self.entries.get(key)

    def put(self, key: str, value: list[float]) -> None:
        """Remember an answer."""
        self.entries[key] = list(value)

    def clear(self) -> None:
        """Forget every answer."""
        self.entries.clear()
