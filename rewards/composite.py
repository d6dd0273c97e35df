"""CompositePRM: several scorers as one, by weights and gates.

The value of a step is the weighted mean of its member scores; a *gate* member vetoes: when its
value for the step is below ``gate_threshold`` the composite is 0 (a verifier that sees a
broken edit overrides a judge that liked the prose). Members are scored once each, in order,
so their own batching is kept::

    prm = CompositePRM([SearchVerifier(), RubricPRM(judge=judge)], weights=[0.7, 0.3])

It can also be written as a YAML file and passed as ``--prm mix.yaml``::

    scorers:
      - {name: verifier, weight: 0.7, gate: true}
      - {name: rubric, weight: 0.3}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmgym.errors import ConfigError
from prmgym.rewards.base import ProcessRewardModel
from prmgym.trajectory import StepScore, Trajectory


class CompositePRM:
    """A weighted, gated mix of scorers (see the module docstring).

    Args:
        scorers: The members.
        weights: One non-negative weight per member; default equal.
        gates: Which members veto; default none.
        gate_threshold: A gate member below this value zeroes the step.
        name: The scores' ``source``; default the members' names joined by ``+``.
    """

    def __init__(
        self,
        scorers: Sequence[ProcessRewardModel],
        weights: Sequence[float] | None = None,
        gates: Sequence[bool] | None = None,
        *,
        gate_threshold: float = 0.5,
        name: str | None = None,
    ) -> None:
        if not scorers:
            raise ConfigError("a composite PRM needs at least one scorer")
        self.scorers = list(scorers)
        self.weights = [1.0] * len(scorers) if weights is None else [float(w) for w in weights]
        self.gates = [False] * len(scorers) if gates is None else list(gates)
        if len(self.weights) != len(scorers) or len(self.gates) != len(scorers):
            raise ConfigError(
                f"{len(scorers)} scorers need {len(scorers)} weights and gates, got"
                f" {len(self.weights)} weights and {len(self.gates)} gates"
            )
        if any(w < 0 for w in self.weights) or not any(self.weights):
            raise ConfigError(f"weights must be >= 0 and not all 0, got {self.weights}")
        self.gate_threshold = gate_threshold
        self.name = name or "+".join(s.name for s in self.scorers)

    def _combine(self, members: list[list[StepScore]]) -> list[StepScore]:
        combined = []
        for per_step in zip(*members, strict=True):
            value = sum(w * s.value for w, s in zip(self.weights, per_step, strict=True)) / sum(
                self.weights
            )
            vetoes = [
                s.source or m.name
                for s, m, g in zip(per_step, self.scorers, self.gates, strict=True)
                if g and s.value < self.gate_threshold
            ]
            parts = "; ".join(f"{s.source}: {s.value:.2f} {s.rationale}".strip() for s in per_step)
            if vetoes:
                label = "fatal" if any(s.label == "fatal" for s in per_step) else "correctable"
                combined.append(
                    StepScore(
                        value=0.0,
                        label=label,
                        rationale=f"gated by {', '.join(vetoes)} ({parts})",
                        source=self.name,
                    )
                )
                continue
            label = "ok" if value >= 0.5 else "correctable"
            combined.append(StepScore(value=value, label=label, rationale=parts, source=self.name))
        return combined

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """Each member scores the trajectory; their scores combine step by step."""
        return self._combine([s.score(trajectory, env) for s in self.scorers])

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Each member scores the candidates; their scores combine candidate by candidate."""
        return self._combine(
            [s.score_candidates(trajectory, candidate_actions, env) for s in self.scorers]
        )
