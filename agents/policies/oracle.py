"""OraclePolicy: replays each family's scripted solution (reads privileged task data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.errors import ConfigError
from prmgym.task import Task


def _plan_for(family: str) -> Callable[[Task], list[str]]:
    if family == "search":
        from prmgym.envs.search.oracle import oracle_actions

        return oracle_actions
    if family == "swe":
        from prmgym.envs.swe.oracle import oracle_actions as swe_actions

        return swe_actions
    if family == "data":
        from prmgym.envs.data.oracle import oracle_actions as data_actions

        return data_actions
    raise ConfigError(f"no oracle for family {family!r}; known: search, swe, data")


class OraclePolicy:
    """Acts out the family oracle's plan, one action per step."""

    name = "oracle"

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """The next planned action of each episode (the last one repeats if the plan is spent)."""
        decisions = []
        for episode in episodes:
            plan = _plan_for(episode.family)(episode.task)
            decisions.append(Decision(action=plan[min(len(episode.actions), len(plan) - 1)]))
        return decisions

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """The planned action, ``k`` times (the oracle has one answer)."""
        return [[decision] * k for decision in self.act(episodes)]
