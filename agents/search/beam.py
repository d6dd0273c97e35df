"""BeamSearch: step-level beam search over branches of the env.

Each task keeps up to ``beams`` partial episodes (beams). Every round the policy samples ``k``
candidate actions for every live beam of every task in one batched call; each distinct
candidate is executed on a branch of its beam's state, the PRM scores the step it produced
(observation included), and the ``beams`` children whose paths aggregate highest (``min`` of
the step scores by default) survive. Children that end the episode leave the beam, which
narrows; the search stops when every slot has finished, and the best finished episode is kept.

Branches are env snapshots where the env offers them, else replays from reset (see
:mod:`~prmgym.agents.search.branching`); either way the compute, replayed steps included, is
counted on the kept episode.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.agents.runner import ProgressCallback, close_quietly, finish_episode, restart_env
from prmgym.agents.search.branching import Branches, Checkpoint
from prmgym.errors import ConfigError
from prmgym.rewards.aggregation import StepAggregation, aggregate_steps
from prmgym.rewards.base import ProcessRewardModel
from prmgym.trajectory import Accounting, Candidate, Trajectory

_DEFAULT_MAX_STEPS = 50
"""Step cap for envs registered without ``max_episode_steps``."""


class BeamSearch:
    """Keep the ``beams`` best partial episodes per task, expanding each by ``k`` candidates.

    Args:
        prm: Scores the step each candidate produces.
        beams: Partial episodes kept per task (B).
        k: Candidates sampled per beam and step (K).
        how: How a path's step scores aggregate into the score beams are ranked by.
    """

    def __init__(
        self,
        prm: ProcessRewardModel,
        beams: int = 2,
        k: int = 4,
        how: StepAggregation = "min",
    ) -> None:
        if beams < 1 or k < 1:
            raise ConfigError(
                f"b and k must be at least 1, got b={beams}, k={k}; e.g. beam:b=2,k=4"
            )
        self.prm = prm
        self.beams = beams
        self.k = k
        self.how = how
        self.name = f"beam:b={beams},k={k}"

    def check(self, policy: Policy) -> None:
        """Raise ConfigError when ``policy`` cannot sample candidates."""
        if not hasattr(policy, "sample"):
            raise ConfigError(f"policy {policy.name!r} cannot sample candidates for {self.name}")


@dataclass
class _Beam:
    trajectory: Trajectory
    view: EpisodeView
    checkpoint: Checkpoint
    info: dict[str, Any]
    values: list[float] = field(default_factory=list)
    done: bool = False


@dataclass
class _Search:
    """One task's beam search in flight."""

    position: int
    env: gymnasium.Env[str, str]
    branches: Branches
    beams: list[_Beam]
    max_steps: int
    started: float
    at: Checkpoint | None = None
    finished: list[_Beam] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)


def _score(method: BeamSearch, beam: _Beam) -> float:
    return aggregate_steps(beam.values, method.how) if beam.values else 0.0


def _account(accounting: Accounting, drafts: Sequence[Decision]) -> None:
    accounting.prompt_tokens += sum(d.prompt_tokens for d in drafts)
    accounting.completion_tokens += sum(d.completion_tokens for d in drafts)
    accounting.llm_calls += max((d.llm_calls for d in drafts), default=0)
    accounting.actions_sampled += len(drafts)


def _expand(method: BeamSearch, search: _Search, rows: Sequence[Sequence[Decision]]) -> None:
    """Execute every distinct candidate of every beam and keep the best children."""
    env = search.env.unwrapped
    children: list[_Beam] = []
    for beam, drafts in zip(search.beams, rows, strict=True):
        _account(search.accounting, drafts)
        firsts = {d.action: d for d in reversed(drafts)}
        records: list[Candidate] = []
        beam_children: list[_Beam] = []
        for action in dict.fromkeys(d.action for d in drafts):
            if search.at is not beam.checkpoint:
                search.accounting.env_steps += search.branches.load(beam.checkpoint)
            observation, reward, terminated, truncated, info = env.step(action)
            search.accounting.env_steps += 1
            trajectory = beam.trajectory.model_copy(deep=True)
            trajectory.record(
                action,
                observation,
                reward,
                terminated,
                truncated,
                info,
                completion=firsts[action].completion,
            )
            if not terminated and len(trajectory.steps) >= search.max_steps:
                trajectory.truncated = True
            score = method.prm.score(trajectory, env)[-1]
            search.accounting.prm_calls += 1
            actions = [s.action for s in trajectory.steps]
            search.at = search.branches.save(actions)
            view = EpisodeView(
                task=beam.view.task,
                family=beam.view.family,
                observations=[*beam.view.observations, observation],
                actions=actions,
                seed=beam.view.seed,
            )
            records.append(Candidate(action=action, score=score))
            beam_children.append(
                _Beam(
                    trajectory,
                    view,
                    search.at,
                    info,
                    [*beam.values, score.value],
                    done=trajectory.terminated or trajectory.truncated,
                )
            )
        for child in beam_children:
            chosen = child.trajectory.steps[-1].action
            child.trajectory.steps[-1].candidates = [
                r.model_copy(update={"chosen": r.action == chosen}) for r in records
            ]
        children.extend(beam_children)
    children.sort(key=lambda c: _score(method, c), reverse=True)
    kept = children[: method.beams - len(search.finished)]
    search.finished.extend(c for c in kept if c.done)
    search.beams = [c for c in kept if not c.done]


def _result(
    method: BeamSearch, search: _Search, scorers: Sequence[ProcessRewardModel]
) -> Trajectory:
    """The best finished episode, scored with the env back at its final state."""
    pool = search.finished or search.beams
    best = max(pool, key=lambda b: _score(method, b))
    trajectory = best.trajectory
    if search.at is not best.checkpoint:
        search.accounting.env_steps += search.branches.load(best.checkpoint)
    # The path's own accounting counted only its steps; the search paid for every branch.
    trajectory.accounting = search.accounting
    finish_episode(trajectory, search.env.unwrapped, best.info, scorers)
    trajectory.metrics[f"{method.name}_score"] = _score(method, best)
    trajectory.accounting.wall_time_s = time.perf_counter() - search.started
    return trajectory


def run_beam_search(
    make_env: Callable[[], gymnasium.Env[str, str]],
    task_ids: Sequence[str],
    policy: Policy,
    method: BeamSearch,
    *,
    scorers: Sequence[ProcessRewardModel] = (),
    batch_size: int = 8,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
) -> list[Trajectory]:
    """Beam-search one episode per task id, ``batch_size`` tasks at a time, in task order.

    One policy call per round samples the candidates of every live beam of every task. A
    task whose env or scorer breaks is recorded with the reason and the run goes on.
    """
    method.check(policy)
    queue = deque(enumerate(task_ids))
    envs: list[gymnasium.Env[str, str]] = []
    results: dict[int, Trajectory] = {}

    def record(position: int, trajectory: Trajectory) -> None:
        results[position] = trajectory
        if on_done is not None:
            on_done(trajectory)

    def start(env: gymnasium.Env[str, str]) -> _Search | None:
        while queue:
            position, task_id = queue.popleft()
            started = time.perf_counter()
            raw = env.unwrapped
            try:
                observation, info = raw.reset(seed=seed + position, options={"task_id": task_id})
            except Exception as exc:  # noqa: BLE001 - a task that cannot start is recorded
                task = raw.tasks[0].model_copy(update={"id": task_id})
                error = f"reset failed: {exc!r}"
                record(position, Trajectory(task=task, agent=policy.name, error=error))
                continue
            branches = Branches(raw, task_id, seed + position)
            root = branches.save([])
            view = EpisodeView(
                task=raw.task,
                family=getattr(raw, "family", "text"),
                observations=[observation],
                seed=seed + position,
            )
            trajectory = Trajectory(task=raw.task, agent=policy.name, seed=seed + position)
            spec = getattr(env, "spec", None)
            max_steps = getattr(spec, "max_episode_steps", None) or _DEFAULT_MAX_STEPS
            beam = _Beam(trajectory, view, root, info)
            return _Search(position, env, branches, [beam], max_steps, started, at=root)
        return None

    def close(search: _Search, error: str | None = None) -> None:
        if error is not None:
            pool = search.finished or search.beams
            trajectory = pool[0].trajectory
            trajectory.error = error
            search.accounting.wall_time_s = time.perf_counter() - search.started
            trajectory.accounting = search.accounting
            record(search.position, trajectory)
        else:
            record(search.position, _result(method, search, scorers))

    try:
        for _ in range(max(1, min(batch_size, len(task_ids)))):
            envs.append(make_env())
        live = [s for s in (start(env) for env in envs) if s is not None]
        while live:
            views = [beam.view for search in live for beam in search.beams]
            try:
                drafts = policy.sample(views, method.k)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - a failed backend call breaks these tasks only
                for search in live:
                    close(search, f"policy failed: {exc!r}")
                live = [s for s in (start(search.env) for search in live) if s is not None]
                continue
            still_live = []
            offset = 0
            for search in live:
                rows = drafts[offset : offset + len(search.beams)]
                offset += len(search.beams)
                env = search.env
                try:
                    _expand(method, search, rows)
                except Exception as exc:  # noqa: BLE001 - a crashed env marks the task, not the run
                    close(search, f"env step failed: {exc!r}")
                    env = restart_env(env, make_env)
                    envs[envs.index(search.env)] = env
                else:
                    if search.beams:
                        still_live.append(search)
                        continue
                    close(search)
                following = start(env)
                if following is not None:
                    still_live.append(following)
            live = still_live
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) or broken: the envs still go, with their sandboxes
        # and temp folders.
        for env in envs:
            close_quietly(env)
        raise
    for env in envs:
        env.close()
    return [results[i] for i in sorted(results)]
