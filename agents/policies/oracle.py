"""OraclePolicy: acts out each family's scripted solution (reads privileged task data)."""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.family import Oracle, get_family


def oracle_for(family: str) -> Oracle:
    """The family's oracle (its declaration's ``oracle`` piece).

    Raises:
        ConfigError: An unknown family, or one that declares no oracle (the message says what
            to add).
    """
    oracle: Oracle = get_family(family).load("oracle")
    return oracle


def next_action(episode: EpisodeView) -> str:
    """The oracle's next action in ``episode``, given what it has seen and done so far."""
    return oracle_for(episode.family)(episode.task, episode.observations, episode.actions)


class OraclePolicy:
    """Acts out the family oracle's plan, one action per step."""

    name = "oracle"

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """The next planned action of each episode (the last one repeats if the plan is spent)."""
        return [Decision(action=next_action(episode)) for episode in episodes]

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """The planned action, ``k`` times (the oracle has one answer)."""
        return [[decision] * k for decision in self.act(episodes)]
