"""Rollouts: G episodes per task over a batch of tasks, generation batched across all of them.

Each iteration draws its tasks with a generator seeded by the run seed and the iteration, so a
resumed run draws what the uninterrupted run would have. All ``tasks x G`` episodes go through
one :func:`~prmgym.agents.runner.run_episodes` call: every round, one batched generate for
every live episode, and the PRM scores each finished episode's steps. Broken episodes come back
marked and are left out of the update by the advantage functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium

from prmgym.agents.policies.base import Policy
from prmgym.agents.runner import ProgressCallback, run_episodes
from prmgym.registry import make_env
from prmgym.rewards.base import ProcessRewardModel
from prmgym.trajectory import Trajectory

EnvFactory = Callable[[], gymnasium.Env[str, str]]


def env_factory(env_id: str, split: str, max_steps: int, **kwargs: Any) -> EnvFactory:
    """Builds envs of ``env_id`` on ``split`` with a step limit of ``max_steps``."""
    return lambda: make_env(env_id, split=split, max_episode_steps=max_steps, **kwargs)


def split_task_ids(make_env: EnvFactory) -> list[str]:
    """Ids of every task the factory's envs draw from."""
    env = make_env()
    ids = [task.id for task in env.unwrapped.tasks]
    env.close()
    return ids


def draw_tasks(task_ids: Sequence[str], count: int, seed: int, iteration: int) -> list[str]:
    """``count`` distinct tasks for one iteration (all of them when there are fewer)."""
    rng = random.Random(f"{seed}:{iteration}")
    return rng.sample(list(task_ids), min(count, len(task_ids)))


def collect_groups(
    make_env: EnvFactory,
    task_ids: Sequence[str],
    policy: Policy,
    group_size: int,
    *,
    scorers: Sequence[ProcessRewardModel] = (),
    batch_size: int = 32,
    seed: int = 0,
    on_done: ProgressCallback | None = None,
    step_workers: int = 1,
) -> list[list[Trajectory]]:
    """``group_size`` episodes of each task, grouped by task, in ``task_ids`` order.

    Episode ``j`` of the whole batch resets with seed ``seed + j``; ``step_workers`` threads
    step the live envs (see :func:`~prmgym.agents.runner.run_episodes`).
    """
    repeated = [task_id for task_id in task_ids for _ in range(group_size)]
    episodes = run_episodes(
        make_env,
        repeated,
        policy,
        scorers=scorers,
        batch_size=batch_size,
        seed=seed,
        on_done=on_done,
        step_workers=step_workers,
    )
    return [episodes[i : i + group_size] for i in range(0, len(episodes), group_size)]
