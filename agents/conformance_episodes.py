"""Playing the episodes the conformance checks judge (:mod:`prmgym.agents.conformance`).

An episode is played as the runner records one (:func:`prmgym.agents.runner.finish_episode`),
driven by a policy or a scripted action list, and the env is left at its last state so a
process reward model can be checked against it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium

from prmgym.agents.policies import EpisodeView
from prmgym.agents.runner import finish_episode
from prmgym.registry import EnvInfo, make_env
from prmgym.task import Task
from prmgym.trajectory import Trajectory

STEP_LIMIT = 200
"""Steps after which an episode of an env with no ``max_episode_steps`` is cut."""


@contextmanager
def open_env(info: EnvInfo, split: str | None) -> Iterator[gymnasium.Env[Any, Any]]:
    """The env of ``info`` (on ``split``), closed when the block ends."""
    env = make_env(info.id, split=split)
    try:
        yield env
    finally:
        env.close()


def draw_tasks(env: gymnasium.Env[Any, Any], seed: int, count: int) -> list[Task]:
    """``count`` of the env's tasks (at most all), in an order fixed by ``seed``."""
    tasks: list[Task] = list(env.unwrapped.tasks)
    random.Random(seed).shuffle(tasks)
    return tasks[:count]


NextAction = Callable[[EpisodeView], str | None]
"""The next action of an episode, or None to stop."""


def policy_actions(policy: Any) -> NextAction:
    """A policy's next action, one episode at a time."""
    return lambda view: policy.act([view])[0].action


def scripted(actions: Sequence[str]) -> NextAction:
    """The next of ``actions``, then None."""
    return lambda view: actions[len(view.actions)] if len(view.actions) < len(actions) else None


def play(
    env: gymnasium.Env[Any, Any], info: EnvInfo, task: Task, next_action: NextAction, seed: int
) -> Trajectory:
    """One episode of ``task``, recorded as the runner records it; the env stays at its end."""
    observation, _ = env.reset(seed=seed, options={"task_id": task.id})
    view = EpisodeView(task=task, family=info.family, observations=[observation], seed=seed)
    trajectory = Trajectory(task=task, seed=seed)
    step_info: dict[str, Any] = {}
    while len(trajectory.steps) < STEP_LIMIT:
        action = next_action(view)
        if action is None:
            break
        observation, reward, terminated, truncated, step_info = env.step(action)
        trajectory.record(action, observation, reward, terminated, truncated, step_info)
        view.observations.append(observation)
        view.actions.append(action)
        if terminated or truncated:
            break
    finish_episode(trajectory, env.unwrapped, step_info, ())
    return trajectory
