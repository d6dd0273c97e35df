"""StepPruning: per-step PRM-guided action pruning.

At every step the policy samples ``k`` candidate actions in one batched call; candidates that
break a programmatic hard rule of the family's rubric are dropped before any PRM call (unless
all do); the PRM scores the rest in one ``score_candidates`` call (environment-aware PRMs read
the live env through its probe); the best is executed. With ``lookahead`` each surviving
candidate is first executed in a snapshot of the env, the step it produces (observation
included) is scored, and the env is restored: costlier, but the PRM sees what the action did.
Envs that cannot snapshot fall back to scoring the bare action. Every candidate, its score or
why it was rejected, is kept on the step for analysis and PRM training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prmgym.agents.policies.base import Decision
from prmgym.errors import ConfigError
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.rubrics.agent import failed_hard_rules
from prmgym.rewards.rubrics.rubric import Rubric, default_rubric
from prmgym.trajectory import Candidate, Step, StepScore, Trajectory


class StepPruning:
    """Sample ``k`` candidates per step, prune by hard rules, execute the PRM's favourite.

    Args:
        prm: Scores the surviving candidates (``score_candidates``).
        k: Candidates sampled per step.
        hard_rules: A rubric whose programmatic hard rules prune candidates; None uses each
            family's default rubric; pass ``Rubric(name="none", criteria=[...])`` of your own
            or ``use_hard_rules=False`` to prune by the PRM alone.
        use_hard_rules: Whether to prune by hard rules at all.
        lookahead: Score each candidate by the step it produces in an env snapshot.
    """

    def __init__(
        self,
        prm: ProcessRewardModel,
        k: int = 4,
        hard_rules: Rubric | None = None,
        *,
        use_hard_rules: bool = True,
        lookahead: bool = False,
    ) -> None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}; e.g. prune:k=4")
        self.prm = prm
        self.k = k
        self.hard_rules = hard_rules
        self.use_hard_rules = use_hard_rules
        self.lookahead = lookahead
        self.name = f"prune:k={k}" + (",lookahead=1" if lookahead else "")

    def _rubric(self, family: str) -> Rubric | None:
        if not self.use_hard_rules:
            return None
        if self.hard_rules is not None:
            return self.hard_rules
        try:
            return default_rubric(family)
        except ConfigError:
            return None

    def choose(
        self, trajectory: Trajectory, env: Any, drafts: Sequence[Decision]
    ) -> tuple[Decision, list[Candidate]]:
        """The decision to execute and the record of every candidate weighed.

        The returned decision carries the generation cost of all drafts, since all were paid
        for.
        """
        actions = list(dict.fromkeys(d.action for d in drafts))
        rubric = self._rubric(trajectory.task.family)
        rejected: dict[str, str] = {}
        if rubric is not None:
            for action in actions:
                step = Step(index=len(trajectory.steps), action=action, observation="")
                failed = failed_hard_rules(rubric, step, trajectory.steps)
                if failed:
                    rejected[action] = f"breaks hard rule(s): {', '.join(failed)}"
        survivors = [a for a in actions if a not in rejected] or actions
        scores = self._lookahead(trajectory, env, survivors) if self.lookahead else None
        prm_calls = len(survivors) if scores is not None else 1
        if scores is None:
            scores = self.prm.score_candidates(trajectory, survivors, env)
        best = max(range(len(survivors)), key=lambda i: scores[i].value)
        by_action = dict(zip(survivors, scores, strict=True))
        records = [
            Candidate(
                action=a,
                score=by_action.get(a),
                rejected=None if a in by_action else rejected.get(a),
                chosen=a == survivors[best],
            )
            for a in actions
        ]
        chosen = next(d for d in drafts if d.action == survivors[best])
        decision = Decision(
            action=chosen.action,
            completion=chosen.completion,
            prompt_tokens=sum(d.prompt_tokens for d in drafts),
            completion_tokens=sum(d.completion_tokens for d in drafts),
            llm_calls=max((d.llm_calls for d in drafts), default=0),
            prm_calls=prm_calls,
            samples=len(drafts),
        )
        return decision, records

    def _lookahead(
        self, trajectory: Trajectory, env: Any, actions: Sequence[str]
    ) -> list[StepScore] | None:
        """Each action's score on the step it produces in a snapshot; None without snapshots."""
        try:
            token = env.snapshot()
        except NotImplementedError:
            return None
        scores = []
        for action in actions:
            observation, reward, _, _, info = env.step(action)
            step = Step(
                index=len(trajectory.steps),
                action=action,
                observation=observation,
                tool=info.get("tool"),
                action_error=info.get("action_error"),
                reward=float(reward),
            )
            branch = trajectory.model_copy(update={"steps": [*trajectory.steps, step]})
            scores.append(self.prm.score(branch, env)[-1])
            env.restore(token)
        return scores
