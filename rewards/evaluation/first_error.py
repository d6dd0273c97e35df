"""First-error sets built from real env episodes, and live envs to score them with.

``build_first_error_set`` takes each task's oracle action list, perturbs it with a known first
wrong step (see each family's ``perturbations`` module, e.g.
:mod:`prmgym.envs.search.perturbations`), and plays every list through the real
env, so observations, rewards and success are what the env really returned. Half the items are
unperturbed oracle runs (first error -1); the other half cycle through the family's error kinds.

Each item's task records the env it ran in (``task.metadata["env"]``), so an environment-aware
PRM can be handed a live env reset to that task (:class:`LiveEnvs`).

A family joins by declaring its ``perturbations`` piece (a
:class:`~prmgym.envs.perturbation.FamilyPerturbations`) in its ``Family``.
"""

from __future__ import annotations

import random
from types import TracebackType
from typing import Any

import gymnasium

from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.errors import ConfigError, TaskError
from prmgym.family import get_family
from prmgym.registry import env_info, make_env
from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.task import Task
from prmgym.trajectory import Trajectory

ENV_KEY = "env"
"""``task.metadata`` key holding ``{"id": env id, "kwargs": make kwargs}`` of the env it ran in."""


def perturbations_for(family: str) -> FamilyPerturbations:
    """The family's declared ``perturbations`` piece.

    Raises:
        ConfigError: An unknown family, one that declares none (the message says what to add),
            or a piece that is not a FamilyPerturbations.
    """
    return get_family(family).load_as("perturbations", FamilyPerturbations)


def _plan(count: int, kinds: tuple[str, ...]) -> list[str]:
    """Kinds of ``count`` items: every other one correct, the rest cycling the error kinds."""
    errors = [kind for kind in kinds if kind != "none"]
    return ["none" if j % 2 == 0 else errors[(j // 2) % len(errors)] for j in range(count)]


def _play(
    env: gymnasium.Env[str, str],
    task: Task,
    perturbation: Perturbation,
    spec: dict[str, Any],
    seed: int,
) -> Trajectory:
    """Run the actions in the env and record them the way the agent runner does."""
    env.reset(seed=seed, options={"task_id": task.id})
    labelled_task = task.model_copy(update={"metadata": {**task.metadata, ENV_KEY: spec}})
    trajectory = Trajectory(task=labelled_task, agent=f"oracle/{perturbation.kind}", seed=seed)
    info: dict[str, Any] = {}
    for action in perturbation.actions:
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.record(action, observation, reward, terminated, truncated, info)
        if terminated or truncated:
            break
    if len(trajectory.steps) != len(perturbation.actions):
        raise TaskError(
            f"task {task.id}: the episode ended after {len(trajectory.steps)} of"
            f" {len(perturbation.actions)} actions; raise the env's max_episode_steps"
        )
    trajectory.success = bool(info.get("success", trajectory.outcome_reward > 0))
    trajectory.metrics.update(
        {k: float(info[k]) for k in ("em", "f1") if isinstance(info.get(k), int | float)}
    )
    return trajectory


def build_first_error_set(
    env_id: str, split: str, count: int, seed: int = 0
) -> list[LabeledTrajectory]:
    """Labelled trajectories with known first errors, played through the real env.

    Args:
        env_id: A registered env id, e.g. ``"prmgym/SearchQA-v0"``; its family must declare
            its ``perturbations``.
        split: The env's task split (passed to ``gymnasium.make``).
        count: Number of items; ``ceil(count / 2)`` are correct, the rest erroneous, split
            evenly across the family's error kinds.
        seed: Fixes the task order, every perturbation and the reset seeds.

    Returns:
        The items, correct and erroneous interleaved; tasks repeat only when ``count``
        exceeds the split's task count.

    Raises:
        ConfigError: Unknown env id, a family without perturbations, or ``count < 1``.
        TaskError: An oracle run that fails, or a kind no task of the split admits.
    """
    if count < 1:
        raise ConfigError(f"count must be at least 1, got {count}")
    perturbations = perturbations_for(env_info(env_id).family)
    spec = {"id": env_id, "kwargs": {"split": split}}
    env = make_env(env_id, split=split)
    try:
        tasks = list(env.unwrapped.tasks)  # type: ignore[attr-defined]
        rng = random.Random(seed)
        rng.shuffle(tasks)
        items: list[LabeledTrajectory] = []
        cursor = 0
        for kind in _plan(count, perturbations.kinds):
            for _ in range(len(tasks)):
                task = tasks[cursor % len(tasks)]
                cursor += 1
                perturbation = perturbations.perturb(env.unwrapped, task, kind, rng)
                if perturbation is not None:
                    break
            else:
                raise TaskError(f"no task of {env_id} split {split!r} admits a {kind} perturbation")
            trajectory = _play(env, task, perturbation, spec, seed + len(items))
            if kind == "none" and not trajectory.success:
                raise TaskError(f"task {task.id}: the oracle does not solve it; fix the task")
            items.append(
                LabeledTrajectory(
                    trajectory=trajectory, first_error=perturbation.first_error, kind=kind
                )
            )
        return items
    finally:
        env.close()


class LiveEnvs:
    """Live envs for environment-aware PRMs: one per env spec, reset to a task on request.

    A task names its env in ``task.metadata["env"]`` (sets from :func:`build_first_error_set`
    do); other tasks use the default spec, or get no env (text-only items such as
    ProcessBench). Use it as a context manager so the envs are closed.

    Args:
        default_env_id: Env for tasks that name none (e.g. trajectories from agent runs).
        default_kwargs: ``gymnasium.make`` kwargs for the default env, e.g. ``{"split": "all"}``.
    """

    def __init__(
        self, default_env_id: str | None = None, default_kwargs: dict[str, Any] | None = None
    ):
        self._default = (
            None
            if default_env_id is None
            else {"id": default_env_id, "kwargs": default_kwargs or {}}
        )
        self._envs: dict[tuple[str, tuple[tuple[str, Any], ...]], gymnasium.Env[str, str]] = {}

    def reset_to(self, task: Task) -> Any | None:
        """The unwrapped env, reset to ``task``; None when neither task nor default names one."""
        spec = task.metadata.get(ENV_KEY) or self._default
        if spec is None:
            return None
        kwargs = dict(spec.get("kwargs", {}))
        key = (spec["id"], tuple(sorted(kwargs.items())))
        if key not in self._envs:
            self._envs[key] = make_env(spec["id"], **kwargs)
        env = self._envs[key]
        env.reset(options={"task_id": task.id})
        return env.unwrapped

    def close(self) -> None:
        """Close every env made so far."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def __enter__(self) -> LiveEnvs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
