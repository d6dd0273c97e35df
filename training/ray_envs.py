"""Rollout envs on Ray actors, for when episodes outgrow one machine.

:class:`EnvWorkers` starts ``workers`` Ray actors; each hosts any number of envs of one id.
:class:`RayEnv` is a Gymnasium env whose ``reset`` and ``step`` run on one of them, so the
runner (and everything built on it) uses remote envs exactly as local ones; with
``run_episodes(step_workers=N)`` the steps of live episodes run concurrently across actors.

Environment-aware PRMs read the live env, which lives in the actor: :class:`RemoteScorer`
scores a finished episode there, building the scorer from its spec inside the actor once.
A dead actor (a crashed worker process, a lost node) is replaced on the next env made on it;
the episode it held is marked broken by the runner, as with a crashed local env.

``ray.init`` connects to the cluster ``RAY_ADDRESS`` names, or starts a local one.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import gymnasium

from prmgym.errors import ConfigError
from prmgym.registry import make_env
from prmgym.rewards.base import StepScore
from prmgym.trajectory import Trajectory


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "Ray env workers need ray; install the extra with `pip install 'prmgym[ray]'`, or "
            "set rollout.distributed: local"
        ) from exc
    return ray


class _EnvHost:
    """The actor's side: envs of one id by handle, and the scorers they are scored with."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        import prmgym  # noqa: F401 - registers the env ids in the worker process

        self._env_id, self._kwargs = env_id, kwargs
        self._envs: dict[int, gymnasium.Env[str, str]] = {}
        self._scorers: dict[str, Any] = {}
        self._handles = itertools.count()

    def make(self) -> tuple[int, dict[str, Any]]:
        handle = next(self._handles)
        env = make_env(self._env_id, **self._kwargs)
        self._envs[handle] = env
        inner = env.unwrapped
        return handle, {
            "observation_space": env.observation_space,
            "action_space": env.action_space,
            "tasks": list(getattr(inner, "tasks", [])),
            "family": getattr(inner, "family", "text"),
            "spec": env.spec,
        }

    def reset(self, handle: int, seed: int | None, options: dict[str, Any] | None) -> Any:
        env = self._envs[handle]
        observation, info = env.reset(seed=seed, options=options)
        return observation, info, getattr(env.unwrapped, "task", None)

    def step(self, handle: int, action: str) -> Any:
        return self._envs[handle].step(action)

    def score(
        self, handle: int, spec: str, trajectory: Trajectory, judge: str | None = None
    ) -> list[StepScore]:
        from prmgym.agents.evaluation import judge_factory
        from prmgym.rewards.registry import make_scorer

        env = self._envs[handle].unwrapped
        if spec not in self._scorers:
            family = getattr(env, "family", "text")
            factory = judge_factory(judge) if judge else None
            self._scorers[spec] = make_scorer(spec, family=family, judge=factory)
        return self._scorers[spec].score(trajectory, env)

    def close(self, handle: int) -> None:
        env = self._envs.pop(handle, None)
        if env is not None:
            env.close()


class EnvWorkers:
    """A pool of Ray actors hosting envs of ``env_id``; call it to make a :class:`RayEnv`.

    Args:
        env_id: A registered env id.
        workers: Actors to start; new envs go to them in turn.
        cpus_per_worker: CPUs Ray reserves per actor.
        **kwargs: Passed to ``gymnasium.make`` in the actor (``split``,
            ``max_episode_steps``, ...).
    """

    def __init__(
        self, env_id: str, *, workers: int = 2, cpus_per_worker: float = 1.0, **kwargs: Any
    ):
        if workers < 1:
            raise ConfigError(f"env workers must be at least 1, got {workers}")
        ray = _ray()
        if not ray.is_initialized():
            ray.init(log_to_driver=False, include_dashboard=False)
        self._actor_class = ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(_EnvHost)
        self._env_id, self._kwargs = env_id, kwargs
        self._lock = threading.Lock()
        self._actors = [self._start() for _ in range(workers)]
        self._turn = itertools.count()

    def _start(self) -> Any:
        return self._actor_class.remote(self._env_id, self._kwargs)

    @property
    def actors(self) -> list[Any]:
        """The live actor handles (e.g. to ``ray.kill`` one in a test)."""
        return list(self._actors)

    def __call__(self) -> RayEnv:
        """A new env on the next actor; a dead actor is replaced first."""
        ray = _ray()
        with self._lock:
            slot = next(self._turn) % len(self._actors)
        try:
            handle, spec = ray.get(self._actors[slot].make.remote())
        except ray.exceptions.RayActorError:
            with self._lock:
                self._actors[slot] = self._start()
            handle, spec = ray.get(self._actors[slot].make.remote())
        return RayEnv(self._actors[slot], handle, spec)

    def shutdown(self) -> None:
        """Stop the actors (envs on them are gone)."""
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []


class RayEnv(gymnasium.Env[str, str]):
    """A Gymnasium env living in a Ray actor (make it with :class:`EnvWorkers`).

    ``tasks``, ``task`` and ``family`` mirror the remote env's, so the runner and the trainer
    read them as on a local env. Remote failures raise here, as a crashed local env would.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, actor: Any, handle: int, description: dict[str, Any]):
        self._actor, self._handle = actor, handle
        self.observation_space = description["observation_space"]
        self.action_space = description["action_space"]
        self.tasks = description["tasks"]
        self.family = description["family"]
        self.spec = description["spec"]
        self.task: Any = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Reset the remote env; ``task`` follows the task it drew."""
        super().reset(seed=seed)
        observation, info, self.task = _ray().get(
            self._actor.reset.remote(self._handle, seed, options)
        )
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Step the remote env."""
        return _ray().get(self._actor.step.remote(self._handle, action))

    def score(self, spec: str, trajectory: Trajectory, judge: str | None = None) -> list[StepScore]:
        """Scores of ``trajectory`` by the scorer ``spec`` names, run next to the env."""
        return _ray().get(self._actor.score.remote(self._handle, spec, trajectory, judge))

    def close(self) -> None:
        """Close the remote env (nothing to do when its actor is gone)."""
        ray = _ray()
        try:
            ray.get(self._actor.close.remote(self._handle))
        except ray.exceptions.RayActorError:
            pass  # the actor is gone, and its envs with it


class RemoteScorer:
    """A scorer that runs where the env lives: in the actor for a :class:`RayEnv`.

    Args:
        spec: A scorer spec ``make_scorer`` takes (``verifier``, a rubric .yaml, a PRM
            directory, ``package.module:Class``); built once per actor.
        name: The scorer's name, as the local one would report it.
        judge: The judge backend spec for judged scorers (built in the actor, when needed).
    """

    def __init__(self, spec: str, name: str, judge: str | None = None):
        self.spec, self.name, self.judge = spec, name, judge

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """The step scores, computed in ``env``'s actor."""
        if not isinstance(env, RayEnv):
            raise ConfigError("RemoteScorer scores episodes of RayEnv envs only")
        return env.score(self.spec, trajectory, self.judge)

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Not offered: test-time search runs on local envs."""
        raise ConfigError("test-time search scores candidates on local envs, not Ray workers")
