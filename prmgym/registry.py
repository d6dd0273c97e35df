"""Registering environments: a thin layer over ``gymnasium.register``.

``register_env`` registers the id with Gymnasium (so ``gymnasium.make`` works) and records what
prmgym needs beside it: the family, where tasks come from, and which PRMs score it by default.
A family's env ids are normally registered by ``prmgym.family.register_family``, which passes
the family's default PRMs; Gymnasium 1.x no longer loads plugin entry points, so a
third-party package registers its family at import (see :mod:`prmgym.plugins`), and an id in
Gymnasium's ``"pkg.mod:ns/Env-v0"`` form imports ``pkg.mod`` first wherever prmgym takes an id.

:func:`make_env` is how prmgym builds an env: the registered family is the one source of truth
(an env class's own ``family`` attribute may repeat it, and must agree), and ``split`` is
passed only to envs whose constructor takes it.

Example:
    >>> import prmgym
    >>> "prmgym/SearchQA-v0" in prmgym.registered_envs()
    True
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import gymnasium
from gymnasium.envs.registration import load_env_creator

from prmgym.errors import ConfigError
from prmgym.plugins import resolve_env_id


@dataclass(frozen=True)
class EnvInfo:
    """What prmgym records about a registered env beyond Gymnasium's spec."""

    id: str
    family: str
    entry_point: str
    task_source: str
    default_prms: tuple[str, ...] = ()
    max_episode_steps: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, EnvInfo] = {}


def register_env(
    id: str,
    entry_point: str,
    *,
    family: str,
    task_source: str,
    default_prms: tuple[str, ...] = (),
    max_episode_steps: int | None = None,
    nondeterministic: bool = False,
    kwargs: dict[str, Any] | None = None,
) -> EnvInfo:
    """Register an env id with Gymnasium and record its prmgym metadata.

    Args:
        id: Versioned id, ``namespace/Name-vN``; bump N when rewards or dynamics change.
        entry_point: Lazy ``"module:Class"`` string, imported on first ``make``.
        family: The family (``search``, ``data``, ``swe``, ``web`` or your own).
        task_source: Human-readable origin of the tasks (shown by ``prmgym envs``).
        default_prms: Scorer names used when a run names none (``register_family`` passes the
            family's).
        max_episode_steps: Truncation limit, applied by Gymnasium's TimeLimit wrapper.
        nondeterministic: Tell Gymnasium the env cannot be exactly reproduced from a seed.
        kwargs: Default constructor arguments.

    Returns:
        The recorded EnvInfo.
    """
    if ":" not in entry_point:
        raise ConfigError(f"entry_point {entry_point!r} must look like 'package.module:ClassName'")
    info = EnvInfo(
        id=id,
        family=family,
        entry_point=entry_point,
        task_source=task_source,
        default_prms=tuple(default_prms),
        max_episode_steps=max_episode_steps,
        kwargs=dict(kwargs or {}),
    )
    gymnasium.register(
        id=id,
        entry_point=entry_point,
        max_episode_steps=max_episode_steps,
        nondeterministic=nondeterministic,
        kwargs=dict(kwargs or {}),
        disable_env_checker=True,
    )
    _REGISTRY[id] = info
    return info


def registered_envs() -> dict[str, EnvInfo]:
    """Every env registered through :func:`register_env`, by id."""
    return dict(_REGISTRY)


def env_info(env_id: str) -> EnvInfo:
    """Look up an env's metadata, with an error listing the known ids.

    ``env_id`` may be ``"module:ns/Env-v0"``: the module is imported first (it registers the id).

    Raises:
        ConfigError: The id is not registered, or its module cannot be imported.
    """
    bare = resolve_env_id(env_id)
    try:
        return _REGISTRY[bare]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(
            f"unknown env id {bare!r}; registered: {known}. A plugin's ids need its package"
            " installed, or `--import MODULE`, or the id written as 'module:ns/Env-v0'"
        ) from None


_UNSET_FAMILY = "text"
"""``TextEnv.family``'s placeholder: a class that leaves its family to its registration."""


def takes_split(env_id: str) -> bool:
    """Whether the env's constructor accepts a ``split`` argument (or any keyword)."""
    entry_point = gymnasium.spec(resolve_env_id(env_id)).entry_point
    creator = entry_point if callable(entry_point) else load_env_creator(entry_point)
    try:
        parameters = inspect.signature(creator).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: its signature cannot be read
        return True
    return any(p.name == "split" or p.kind is p.VAR_KEYWORD for p in parameters)


def make_env(env_id: str, *, split: str | None = None, **kwargs: Any) -> gymnasium.Env[Any, Any]:
    """``gymnasium.make`` for a registered prmgym env, checked against its registration.

    Args:
        env_id: A registered id, or ``"module:ns/Env-v0"``.
        split: The task split, passed only if the env's constructor takes ``split``; an env
            that takes none has one task list, used whatever split is asked.
        **kwargs: Further ``gymnasium.make`` arguments (constructor arguments,
            ``max_episode_steps``).

    Returns:
        The env. Its ``unwrapped.family`` is the registered family; an env class that does not
        set ``family`` gets it here.

    Raises:
        ConfigError: Unknown id, or an env class whose ``family`` contradicts the family it is
            registered under (the message names both places).
    """
    info = env_info(env_id)
    if split is not None and takes_split(info.id):
        kwargs["split"] = split
    env = gymnasium.make(info.id, **kwargs)
    base = env.unwrapped
    declared = getattr(base, "family", None)
    if declared in (None, _UNSET_FAMILY):
        # The class leaves the family to its registration (TextEnv's placeholder).
        base.family = info.family  # type: ignore[attr-defined]
    elif declared != info.family:
        env.close()
        raise ConfigError(
            f"{info.id} is registered under family {info.family!r} but its class"
            f" {type(base).__name__} sets family = {declared!r}; make them agree (the"
            " Family(name=...) that registers it is the one that counts; the class attribute"
            " may be left out)"
        )
    return env
