"""NoisyOraclePolicy: the oracle's action with probability p, else a plausible wrong one.

A controlled testbed for test-time search: how much a search method recovers depends only on
p and on the PRM, not on an LLM's quality. Draws are seeded per episode, step and draw, so runs
repeat; ``sample`` gives k independent draws per episode, the candidates a pruning or
best-of-N method chooses among.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.errors import ConfigError
from prmgym.family import WrongAction, get_family


def _wrong_action_for(family: str) -> WrongAction:
    wrong: WrongAction = get_family(family).load("wrong_action")
    return wrong


class NoisyOraclePolicy:
    """The family oracle, right with probability ``p`` at each step.

    The wrong actions come from the family's ``wrong_action`` piece.

    Args:
        p: Probability of taking the oracle's action, in [0, 1].
        seed: Base seed; each episode also mixes in its own seed, task and step.
    """

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"p must be in [0, 1], got {p}; e.g. noisy-oracle:0.5")
        self.p = p
        self.seed = seed
        self.name = f"noisy-oracle:{p:g}"
        self._oracle = OraclePolicy()

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """``k`` independent draws for each episode (the candidates of one step)."""
        right = self._oracle.act(episodes)
        out = []
        for episode, oracle in zip(episodes, right, strict=True):
            wrong = _wrong_action_for(episode.family)
            draws = []
            for draw in range(k):
                # The history is part of the key: beams that share a step count but took
                # different actions draw differently.
                history = "\x1f".join(episode.actions)
                rng = random.Random(
                    f"{self.seed}:{episode.seed}:{episode.task.id}:{history}:{draw}"
                )
                if rng.random() < self.p:
                    draws.append(Decision(action=oracle.action))
                else:
                    action = wrong(episode.task, oracle.action, episode.observations, rng)
                    draws.append(Decision(action=action))
            out.append(draws)
        return out

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """One draw per episode."""
        return [draws[0] for draws in self.sample(episodes, 1)]
