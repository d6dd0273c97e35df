"""Branches: return an env to an earlier state, by snapshot where offered, else by replay.

Lookahead and beam search execute candidate actions and come back. An env that implements
``snapshot``/``restore`` does this cheaply; any other env is brought back by resetting it with
the episode's seed and task and replaying the actions taken so far, which is exact for envs
that are deterministic given a seed and an action sequence (what ``check_env`` asks of them).
Replayed steps are counted, so the extra compute of an env without snapshots shows up in the
episode's accounting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Checkpoint:
    """A saved env state: the env's own snapshot token, or None to replay ``actions``."""

    actions: tuple[str, ...]
    token: Any = None


class Branches:
    """Saves and loads states of one episode of ``env`` (the unwrapped env).

    Args:
        env: The env the episode runs in.
        task_id: The episode's task, for replays.
        seed: The episode's reset seed, for replays.
    """

    def __init__(self, env: Any, task_id: str, seed: int | None) -> None:
        self.env = env
        self.task_id = task_id
        self.seed = seed
        self.replays = True
        try:
            env.snapshot()
            self.replays = False
        except NotImplementedError:
            pass

    def save(self, actions: Sequence[str]) -> Checkpoint:
        """The env's current state, reached by ``actions`` from reset."""
        token = None if self.replays else self.env.snapshot()
        return Checkpoint(actions=tuple(actions), token=token)

    def load(self, checkpoint: Checkpoint) -> int:
        """Put the env back in ``checkpoint``'s state; returns the env steps it took."""
        if not self.replays:
            self.env.restore(checkpoint.token)
            return 0
        self.env.reset(seed=self.seed, options={"task_id": self.task_id})
        for action in checkpoint.actions:
            self.env.step(action)
        return len(checkpoint.actions)
