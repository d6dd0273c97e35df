"""RandomPolicy: a floor to compare against — random tools with random arguments."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from prmgym.agents.policies.base import Decision, EpisodeView

_WORDS = (
    "list sort json dumps path join string split heapq merge default parameter module class "
    "function value error file time date random math regex pattern queue thread"
).split()


class RandomPolicy:
    """Random tool calls built from the family's tools and common words, seeded per episode."""

    name = "random"

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """A random call for each episode, reproducible from its seed and step."""
        return [draws[0] for draws in self.sample(episodes, 1)]

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """``k`` independent random calls per episode."""
        return [[self._draw(episode, draw) for draw in range(k)] for episode in episodes]

    @staticmethod
    def _draw(episode: EpisodeView, draw: int) -> Decision:
        # Draw 0 keeps the seed string act() always used, so single-draw runs are unchanged.
        suffix = f":{draw}" if draw else ""
        rng = random.Random(f"{episode.seed}:{episode.task.id}:{len(episode.actions)}{suffix}")
        words = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
        tool = rng.choice(["search", "search", "open", "answer"])
        if tool == "open":
            words = words.replace(" ", ".")
        return Decision(action=f"{tool}({json.dumps(words)})")
