"""Registering environments: a thin layer over ``gymnasium.register``.

``register_env`` registers the id with Gymnasium (so ``gymnasium.make`` works) and records what
prmgym needs beside it: the family, where tasks come from, and which PRMs score it by default.
A family's env ids are normally registered by ``prmgym.family.register_family``, which passes
the family's default PRMs; Gymnasium 1.x no longer loads plugin entry points, so a
third-party package registers its family at import, or users make its env with
``gymnasium.make("pkg.mod:ns/Env-v0")``.

Example:
    >>> import prmgym
    >>> "prmgym/SearchQA-v0" in prmgym.registered_envs()
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium

from prmgym.errors import ConfigError


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
    """Look up an env's metadata, with an error listing the known ids."""
    try:
        return _REGISTRY[env_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"unknown env id {env_id!r}; registered: {known}") from None
