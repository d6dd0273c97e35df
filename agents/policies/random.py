"""RandomPolicy: a floor to compare against — random calls of each family's own tools."""

from __future__ import annotations

import random
from collections.abc import Sequence

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.family import RandomAction, get_family


class RandomPolicy:
    """Random tool calls from the family's ``random_action`` piece, seeded per episode."""

    name = "random"

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """A random call for each episode, reproducible from its seed and step."""
        return [draws[0] for draws in self.sample(episodes, 1)]

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """``k`` independent random calls per episode."""
        return [[self._draw(episode, draw) for draw in range(k)] for episode in episodes]

    @staticmethod
    def _draw(episode: EpisodeView, draw: int) -> Decision:
        generate: RandomAction = get_family(episode.family).load("random_action")
        # Draw 0 keeps the seed string act() always used, so single-draw runs are unchanged.
        suffix = f":{draw}" if draw else ""
        rng = random.Random(f"{episode.seed}:{episode.task.id}:{len(episode.actions)}{suffix}")
        return Decision(action=generate(episode.task, episode.observations, rng))
