"""Best-of-N and weighted best-of-N over whole episodes.

Each task is run ``n`` times (different reset seeds, so sampled policies differ); the PRM
scores every episode; best-of-N keeps the episode whose steps aggregate highest (``min`` by
default), weighted best-of-N groups the episodes by their final action (the answer) and keeps
the best episode of the answer with the largest total score (PRM-weighted voting). The kept
episode carries the compute of all ``n``, so methods compare at equal compute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium

from prmgym.agents.policies.base import Policy
from prmgym.agents.runner import ProgressCallback, run_episodes
from prmgym.envs.actions import ActionError, parse_tool_call
from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import StepAggregation, aggregate_steps
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.evaluation.best_of_n import stored_values
from prmgym.trajectory import Accounting, Trajectory


class BestOfN:
    """Choose among ``n`` whole episodes per task by PRM score.

    Args:
        prm: Scores every episode's steps.
        n: Episodes per task.
        how: How step scores become an episode score.
        weighted: Vote over final actions with PRM weights instead of taking the top episode.
    """

    def __init__(
        self,
        prm: ProcessRewardModel,
        n: int = 4,
        how: StepAggregation = "min",
        *,
        weighted: bool = False,
    ) -> None:
        if n < 1:
            raise ConfigError(f"n must be at least 1, got {n}; e.g. bon:n=4")
        self.prm = prm
        self.n = n
        self.how = how
        self.weighted = weighted
        self.name = f"{'wbon' if weighted else 'bon'}:n={n}"

    def episode_score(self, trajectory: Trajectory) -> float:
        """The episode's aggregated score from this PRM; -1 for broken or unscored episodes."""
        if trajectory.error is not None or not trajectory.steps:
            return -1.0
        try:
            values = stored_values(trajectory, self.prm.name)
        except ConfigError:
            return -1.0
        return aggregate_steps(values, self.how)

    def select(self, group: Sequence[Trajectory]) -> Trajectory:
        """The kept episode of one task's group, carrying the group's total compute."""
        scores = [self.episode_score(t) for t in group]
        candidates = range(len(group))
        if self.weighted:
            votes: dict[str, float] = {}
            for t, score in zip(group, scores, strict=True):
                if score >= 0 and t.steps:
                    key = _answer_key(t.steps[-1].action)
                    votes[key] = votes.get(key, 0.0) + score
            if votes:
                answer = max(votes, key=lambda a: votes[a])
                candidates = [
                    i
                    for i, t in enumerate(group)
                    if t.steps and _answer_key(t.steps[-1].action) == answer
                ]
        best = max(candidates, key=lambda i: scores[i])
        kept = group[best].model_copy(deep=True)
        kept.accounting = _total(t.accounting for t in group)
        kept.metrics[f"{self.name}_score"] = scores[best]
        return kept


def _answer_key(action: str) -> str:
    """Final actions that say the same thing vote together: the parsed call, else the text."""
    try:
        call = parse_tool_call(action)
    except ActionError:
        return " ".join(action.split())
    args = [" ".join(a.split()) if isinstance(a, str) else a for a in call.args]
    return repr((call.name, args, sorted(call.kwargs.items())))


def _total(accountings: Any) -> Accounting:
    total = Accounting()
    for a in accountings:
        for field in Accounting.model_fields:
            setattr(total, field, getattr(total, field) + getattr(a, field))
    return total


def run_best_of_n(
    make_env: Callable[[], gymnasium.Env[str, str]],
    task_ids: Sequence[str],
    policy: Policy,
    method: BestOfN,
    *,
    scorers: Sequence[ProcessRewardModel] = (),
    batch_size: int = 8,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
) -> list[Trajectory]:
    """Run ``method.n`` episodes per task and keep one each (see the module docstring).

    ``scorers`` score every episode as usual; the method's own PRM is added if missing.
    """
    names = {s.name for s in scorers}
    all_scorers = [*scorers, *([] if method.prm.name in names else [method.prm])]
    repeated = [task_id for task_id in task_ids for _ in range(method.n)]
    episodes = run_episodes(
        make_env, repeated, policy, scorers=all_scorers, batch_size=batch_size, seed=seed
    )
    kept = []
    for i in range(len(task_ids)):
        chosen = method.select(episodes[i * method.n : (i + 1) * method.n])
        kept.append(chosen)
        if on_done is not None:
            on_done(chosen)
    return kept
