"""OraclePolicy: replays each family's scripted solution (reads privileged task data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.errors import ConfigError, TaskError
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
    raise ConfigError(f"no oracle for family {family!r}; known: search, swe, data, web")


def next_action(episode: EpisodeView) -> str:
    """The oracle's next action in ``episode`` (the last one repeats once the plan is spent).

    Web plans name elements by role and name, so each step is resolved on the page the
    episode's latest observation shows (``noop()`` when that page lacks the element); other
    families' plans are fixed strings.
    """
    if episode.family == "web":
        from prmgym.envs.web.oracle import oracle_action

        try:
            return oracle_action(episode.task, episode.observations[-1], len(episode.actions))
        except TaskError:
            # Off its plan's page (continuing someone else's episode past a wrong click, as
            # Monte Carlo labelling does): it waits, and the episode fails at its step limit.
            return "noop()"
    plan = _plan_for(episode.family)(episode.task)
    return plan[min(len(episode.actions), len(plan) - 1)]


class OraclePolicy:
    """Acts out the family oracle's plan, one action per step."""

    name = "oracle"

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """The next planned action of each episode (the last one repeats if the plan is spent)."""
        return [Decision(action=next_action(episode)) for episode in episodes]

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """The planned action, ``k`` times (the oracle has one answer)."""
        return [[decision] * k for decision in self.act(episodes)]
