"""Running many episodes at once, with one batched policy call per step.

``run_episodes`` keeps up to ``batch_size`` episodes live. Each round it asks the policy for
the next action of every live episode in one call (one batched ``generate`` for an LLM),
steps each env, and refills finished slots from the task queue. A broken episode (an env that
raises, a backend that fails) is recorded on its trajectory with the reason and the run goes
on. Finished episodes are scored by the given PRMs with the env still at its final state.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium

from prmgym.agents.policies.base import Decision, EpisodeView, Policy
from prmgym.rewards.base import ProcessRewardModel
from prmgym.trajectory import Accounting, Candidate, Trajectory

if TYPE_CHECKING:
    # Pruning imports the runner's neighbours; the runner only needs the type.
    from prmgym.agents.search.pruning import StepPruning

ProgressCallback = Callable[[Trajectory], None]


@dataclass
class _Slot:
    env: gymnasium.Env[str, str]
    trajectory: Trajectory | None = None
    view: EpisodeView | None = None
    started: float = 0.0
    position: int = 0
    info: dict[str, Any] = field(default_factory=dict)


def finish_episode(
    trajectory: Trajectory,
    env: Any,
    info: dict[str, Any],
    scorers: Sequence[ProcessRewardModel],
) -> None:
    """Set a finished episode's outcome from the env's last ``info`` and score its steps.

    ``env`` must still be at the episode's final state: environment-aware PRMs read it. A
    scorer that fails marks the episode instead of raising.
    """
    if trajectory.error is not None:
        return
    trajectory.success = bool(info.get("success", trajectory.outcome_reward > 0))
    trajectory.metrics.update(
        {k: float(info[k]) for k in ("em", "f1") if isinstance(info.get(k), int | float)}
    )
    for scorer in scorers:
        if not trajectory.steps:
            break
        try:
            scores = scorer.score(trajectory, env)
        except Exception as exc:  # noqa: BLE001 - a broken scorer is reported, not fatal
            trajectory.metrics[f"{scorer.name}_failed"] = 1.0
            trajectory.error = f"scorer {scorer.name} failed: {exc!r}"
            continue
        trajectory.accounting.prm_calls += 1
        for step, score in zip(trajectory.steps, scores, strict=True):
            step.scores.append(score)


def _finish(slot: _Slot, scorers: Sequence[ProcessRewardModel]) -> Trajectory:
    trajectory = slot.trajectory
    assert trajectory is not None
    finish_episode(trajectory, slot.env.unwrapped, slot.info, scorers)
    trajectory.accounting.wall_time_s = time.perf_counter() - slot.started
    slot.trajectory, slot.view = None, None
    return trajectory


def run_episodes(
    make_env: Callable[[], gymnasium.Env[str, str]],
    task_ids: Sequence[str],
    policy: Policy,
    *,
    scorers: Sequence[ProcessRewardModel] = (),
    batch_size: int = 8,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
    search: StepPruning | None = None,
    step_workers: int = 1,
) -> list[Trajectory]:
    """Run one episode per task id, ``batch_size`` at a time, and return them in task order.

    Args:
        make_env: Builds one env (e.g. ``lambda: gymnasium.make(env_id)``); called at most
            ``batch_size`` times, envs are reused across episodes.
        task_ids: Tasks to run, one episode each (repeat an id for several episodes).
        policy: Decides actions for all live episodes at once.
        scorers: PRMs that score each finished episode's steps.
        batch_size: Live episodes at once.
        seed: Base reset seed; episode i uses ``seed + i``.
        on_done: Called with each finished trajectory (progress bars, logging).
        search: A test-time search method choosing each action among ``search.k`` candidates
            the policy samples; the candidates are kept on each step.
        step_workers: Threads stepping the live envs concurrently; worth it where a step
            waits on something else (remote Ray envs, sandboxes, a browser). 1: in turn.
    """
    if search is not None:
        search.check(policy)
    stepper = ThreadPoolExecutor(step_workers) if step_workers > 1 else None
    slots: list[_Slot] = []
    try:
        for _ in range(max(1, min(batch_size, len(task_ids)))):
            slots.append(_Slot(make_env()))
        results = _run(slots, make_env, task_ids, policy, scorers, seed, on_done, search, stepper)
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) or broken: the envs still go, with their sandboxes and
        # temp folders; a close that fails must not hide why the run stopped.
        if stepper is not None:
            stepper.shutdown(cancel_futures=True)
        for slot in slots:
            close_quietly(slot.env)
        raise
    if stepper is not None:
        stepper.shutdown()
    for slot in slots:
        slot.env.close()
    return [results[i] for i in sorted(results)]


def _run(
    slots: list[_Slot],
    make_env: Callable[[], gymnasium.Env[str, str]],
    task_ids: Sequence[str],
    policy: Policy,
    scorers: Sequence[ProcessRewardModel],
    seed: int,
    on_done: ProgressCallback | None,
    search: StepPruning | None,
    stepper: ThreadPoolExecutor | None,
) -> dict[int, Trajectory]:
    """``run_episodes``' loop over ``slots``; returns the trajectories by task position."""
    queue = deque(enumerate(task_ids))
    family = getattr(slots[0].env.unwrapped, "family", "text")
    results: dict[int, Trajectory] = {}

    def record(position: int, trajectory: Trajectory) -> None:
        results[position] = trajectory
        if on_done is not None:
            on_done(trajectory)

    def start(slot: _Slot) -> bool:
        while queue:
            position, task_id = queue.popleft()
            slot.started = time.perf_counter()
            try:
                observation, info = slot.env.reset(
                    seed=seed + position, options={"task_id": task_id}
                )
            except Exception as exc:  # noqa: BLE001 - a task that cannot start is recorded
                task = slot.env.unwrapped.tasks[0].model_copy(update={"id": task_id})
                error = f"reset failed: {exc!r}"
                record(position, Trajectory(task=task, agent=policy.name, error=error))
                continue
            task = slot.env.unwrapped.task
            slot.position = position
            slot.trajectory = Trajectory(task=task, agent=policy.name, seed=seed + position)
            slot.view = EpisodeView(
                task=task, family=family, observations=[observation], seed=seed + position
            )
            slot.info = info
            return True
        return False

    live = [slot for slot in slots if start(slot)]
    while live:
        views = [slot.view for slot in live]
        try:
            decisions, weighed = _decide(policy, views, live, search)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a failed backend call breaks these episodes only
            for slot in live:
                assert slot.trajectory is not None
                slot.trajectory.error = f"policy failed: {exc!r}"
                record(slot.position, _finish(slot, scorers))
            live = [slot for slot in live if start(slot)]
            continue
        still_live = []
        pairs = [(s.env, d.action) for s, d in zip(live, decisions, strict=True)]
        outcomes = list(stepper.map(_step, pairs)) if stepper else [_step(p) for p in pairs]
        for slot, decision, candidates, outcome in zip(
            live, decisions, weighed, outcomes, strict=True
        ):
            trajectory, view = slot.trajectory, slot.view
            assert trajectory is not None and view is not None
            _account(trajectory.accounting, decision)
            if isinstance(outcome, Exception):  # a crashed env marks the episode, not the run
                trajectory.error = f"env step failed: {outcome!r}"
                record(slot.position, _finish(slot, scorers))
                slot.env = restart_env(slot.env, make_env)
                if start(slot):
                    still_live.append(slot)
                continue
            observation, reward, terminated, truncated, info = outcome
            step = trajectory.record(
                decision.action,
                observation,
                reward,
                terminated,
                truncated,
                info,
                completion=decision.completion,
            )
            step.candidates = candidates
            view.observations.append(observation)
            view.actions.append(decision.action)
            slot.info = info
            if terminated or truncated:
                record(slot.position, _finish(slot, scorers))
                if not start(slot):
                    continue
            still_live.append(slot)
        live = still_live
    return results


def _step(pair: tuple[gymnasium.Env[str, str], str]) -> Any:
    """The env's step result, or the exception it raised."""
    env, action = pair
    try:
        return env.step(action)
    except Exception as exc:  # noqa: BLE001 - returned to the runner, which marks the episode
        return exc


def _decide(
    policy: Policy,
    views: list[EpisodeView],
    live: list[_Slot],
    search: StepPruning | None,
) -> tuple[list[Decision], list[list[Candidate]]]:
    """The next decision of every live episode, and the candidates weighed for it."""
    if search is None:
        return policy.act(views), [[] for _ in views]
    trajectories = [slot.trajectory for slot in live]
    return search.decide(policy, views, trajectories, [slot.env.unwrapped for slot in live])  # type: ignore[arg-type]


def restart_env(
    env: gymnasium.Env[str, str], make_env: Callable[[], gymnasium.Env[str, str]]
) -> gymnasium.Env[str, str]:
    """A fresh env in place of one that crashed (closing the old one may fail too)."""
    close_quietly(env)
    return make_env()


def close_quietly(env: gymnasium.Env[str, str]) -> None:
    """Close ``env``, ignoring a failure: it is broken, or the run is already failing."""
    try:
        env.close()
    except Exception:  # noqa: BLE001, S110 - nothing more can be done for this env
        pass


def _account(accounting: Accounting, decision: Decision) -> None:
    accounting.prompt_tokens += decision.prompt_tokens
    accounting.completion_tokens += decision.completion_tokens
    accounting.llm_calls += decision.llm_calls
    accounting.prm_calls += decision.prm_calls
    accounting.actions_sampled += decision.samples
    accounting.env_steps += decision.env_steps
