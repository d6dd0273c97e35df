"""StepPruning: per-step PRM-guided action pruning.

At every step the policy samples ``k`` candidate actions in one batched call; candidates that
break a programmatic hard rule of the family's rubric are dropped before any PRM call (unless
all do); the PRM scores the rest in one ``score_candidates`` call (environment-aware PRMs read
the live env through its probe); the best is executed. With ``lookahead`` each surviving
candidate is first executed on a branch of the env, the step it produces (observation
included) is scored, and the env is brought back (by snapshot, or by replay where the env has
none; see :mod:`~prmgym.agents.search.branching`): costlier, but the PRM sees what the action
did.

With ``early`` (early rejection) an LLM policy first drafts only the first ``early`` tokens of
each candidate; the PRM scores those partial actions and only the top ``keep`` share is
completed, which saves the generation of the rest. It pays off with judges and learned PRMs,
which can read a partial action; a programmatic verifier sees every partial call as malformed
and ranks them all alike.

Every candidate, its score or why it was rejected, is kept on the step for analysis and PRM
training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.agents.search.branching import Branches
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
        lookahead: Score each candidate by the step it produces on a branch of the env.
        early: Early rejection: draft this many tokens of each candidate first (LLM policies
            only); None drafts whole actions.
        keep: The share of drafts completed under early rejection (at least one).
    """

    def __init__(
        self,
        prm: ProcessRewardModel,
        k: int = 4,
        hard_rules: Rubric | None = None,
        *,
        use_hard_rules: bool = True,
        lookahead: bool = False,
        early: int | None = None,
        keep: float = 0.5,
    ) -> None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}; e.g. prune:k=4")
        if early is not None and early < 1:
            raise ConfigError(f"early must be at least 1 token, got {early}; e.g. early=8")
        if not 0 < keep <= 1:
            raise ConfigError(f"keep is the share of drafts completed, in (0, 1]; got {keep}")
        self.prm = prm
        self.k = k
        self.hard_rules = hard_rules
        self.use_hard_rules = use_hard_rules
        self.lookahead = lookahead
        self.early = early
        self.keep = keep
        self.name = (
            f"prune:k={k}"
            + (",lookahead=1" if lookahead else "")
            + (f",early={early},keep={keep:g}" if early else "")
        )

    def check(self, policy: Policy) -> None:
        """Raise ConfigError when ``policy`` cannot do what this method asks of it."""
        if not hasattr(policy, "sample"):
            raise ConfigError(f"policy {policy.name!r} cannot sample candidates for {self.name}")
        if self.early and not hasattr(policy, "sample_prefixes"):
            raise ConfigError(
                f"early rejection drafts actions token by token, which policy {policy.name!r}"
                " cannot; use an LLM agent or drop early="
            )

    def decide(
        self,
        policy: Policy,
        views: Sequence[EpisodeView],
        trajectories: Sequence[Trajectory],
        envs: Sequence[Any],
    ) -> tuple[list[Decision], list[list[Candidate]]]:
        """The action to execute in every live episode, and the candidates weighed for it.

        One batched policy call drafts the candidates of all episodes (two under early
        rejection: drafts, then completions of the kept ones).
        """
        if not self.early:
            drafts = policy.sample(views, self.k)  # type: ignore[attr-defined]
            chosen = [
                self.choose(t, env, row)
                for t, env, row in zip(trajectories, envs, drafts, strict=True)
            ]
            return [d for d, _ in chosen], [records for _, records in chosen]
        prefixes = policy.sample_prefixes(views, self.k, self.early)  # type: ignore[attr-defined]
        shortlists = [
            self._shortlist(t, env, row)
            for t, env, row in zip(trajectories, envs, prefixes, strict=True)
        ]
        completed = policy.complete(views, [kept for kept, _ in shortlists])  # type: ignore[attr-defined]
        decisions, weighed = [], []
        for (_, dropped), t, env, row, prefix_row in zip(
            shortlists, trajectories, envs, completed, prefixes, strict=True
        ):
            decision, records = self.choose(t, env, row)
            # ``choose`` counted the completions; every draft was paid for as well.
            decision.prompt_tokens += sum(d.prompt_tokens for d in prefix_row)
            decision.completion_tokens += sum(d.completion_tokens for d in prefix_row)
            decision.samples = len(prefix_row)
            decision.prm_calls += 1
            decision.llm_calls += 1
            decisions.append(decision)
            weighed.append(records + dropped)
        return decisions, weighed

    def _shortlist(
        self, trajectory: Trajectory, env: Any, prefixes: Sequence[Decision]
    ) -> tuple[list[Decision], list[Candidate]]:
        """The drafts worth completing, and a record of each one dropped."""
        if len(prefixes) <= 1:
            return list(prefixes), []
        scores = self.prm.score_candidates(trajectory, [d.action for d in prefixes], env)
        order = sorted(range(len(prefixes)), key=lambda i: -scores[i].value)
        n_keep = max(1, math.ceil(self.keep * len(prefixes)))
        kept = sorted(order[:n_keep])
        cut = scores[order[n_keep - 1]].value
        dropped = [
            Candidate(
                action=prefixes[i].action,
                score=scores[i],
                rejected=f"early rejection: partial draft scored {scores[i].value:.2f},"
                f" below the kept share's {cut:.2f}",
            )
            for i in order[n_keep:]
        ]
        return [prefixes[i] for i in kept], dropped

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
        env_steps = 0
        if self.lookahead:
            scores, env_steps = self._lookahead(trajectory, env, survivors)
            prm_calls = len(survivors)
        else:
            scores = self.prm.score_candidates(trajectory, survivors, env)
            prm_calls = 1
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
            env_steps=env_steps,
        )
        return decision, records

    def _lookahead(
        self, trajectory: Trajectory, env: Any, actions: Sequence[str]
    ) -> tuple[list[StepScore], int]:
        """Each action's score on the step it produces on a branch, and the env steps spent."""
        branches = Branches(env, trajectory.task.id, trajectory.seed)
        here = branches.save([s.action for s in trajectory.steps])
        scores, env_steps = [], 0
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
            env_steps += 1 + branches.load(here)
        return scores, env_steps
