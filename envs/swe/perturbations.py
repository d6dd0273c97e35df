"""SWE-family perturbations: oracle action lists made wrong at a known step.

The SWE oracle applies the gold patch one editor action per hunk, then submits. These
functions break that list in one place, so the first wrong step is known by construction (as
ProcessBench labels solutions, arXiv 2412.06559). Kinds:

- ``none``: the oracle list unchanged (first error -1);
- ``submit_early``: ``submit()`` after only some (possibly none) of the fix's edits, checked
  in the env to leave the task unresolved;
- ``repeat``: an identical copy of one of the fix's edits right after it, checked in the env
  to change nothing (the env refuses it: its old text is gone) while the rest still resolves
  the task: a wasted step.

Every choice is drawn from the ``random.Random`` passed in, so a seed fixes the whole set.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from prmgym.envs.perturbation import Perturbation
from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions
from prmgym.task import Task

SWE_KINDS: tuple[str, ...] = ("none", "submit_early", "repeat")
"""Perturbation kinds of the SWE family; ``none`` is the unperturbed oracle."""


def _play(env: SWEEnv, task: Task, actions: Sequence[str]) -> list[dict[str, object]]:
    """Each step's info (with its reward under ``"reward"``), from a fresh episode."""
    env.reset(options={"task_id": task.id})
    infos: list[dict[str, object]] = []
    for action in actions:
        _, reward, terminated, _, info = env.step(action)
        infos.append({**info, "reward": reward})
        if terminated:
            break
    return infos


def unperturbed(actions: Sequence[str]) -> Perturbation:
    """The oracle list as it is: every step right."""
    return Perturbation(tuple(actions), -1, "none")


def submit_early(
    env: SWEEnv, task: Task, actions: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Submit after a drawn number of the fix's edits, short of all of them.

    Args:
        env: The unwrapped SWE env the list is played in (it is reset) to check it fails.
        task: The task the actions solve.
        actions: The oracle's action list, ending with ``submit()``.
        rng: Source of how many edits come first.

    Returns:
        The perturbed list (first error: the submission), or None when that submission
        resolves the task after all.
    """
    done = rng.randrange(len(actions) - 1) if len(actions) > 1 else 0
    perturbed = (*actions[:done], "submit()")
    infos = _play(env, task, perturbed)
    if infos[-1]["reward"] != 0.0 or len(infos) != len(perturbed):
        return None
    return Perturbation(perturbed, done, "submit_early")


def repeat(
    env: SWEEnv, task: Task, actions: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Repeat one of the fix's edits right after it: the copy has nothing left to change.

    Args:
        env: The unwrapped SWE env the list is played in (it is reset) to check the copy
            changes nothing and the task is still resolved.
        task: The task the actions solve.
        actions: The oracle's action list, ending with ``submit()``.
        rng: Source of the edit to repeat.

    Returns:
        The perturbed list, or None when there is no edit or the check fails.
    """
    if len(actions) < 2:
        return None
    source = rng.randrange(len(actions) - 1)
    perturbed = (*actions[: source + 1], actions[source], *actions[source + 1 :])
    infos = _play(env, task, perturbed)
    refused = infos[source + 1].get("action_error") is not None
    if not refused or len(infos) != len(perturbed) or infos[-1]["reward"] != 1.0:
        return None
    return Perturbation(perturbed, source + 1, "repeat")


def perturb_swe(env: SWEEnv, task: Task, kind: str, rng: random.Random) -> Perturbation | None:
    """One perturbation of ``kind`` of the oracle's actions for ``task`` in a SWE env.

    Args:
        env: The unwrapped env the perturbed lists are checked in (it is reset).
        task: The task to perturb.
        kind: One of :data:`SWE_KINDS`.
        rng: Source of every choice.

    Returns:
        The perturbation, or None where this task admits no such kind.

    Raises:
        ValueError: For a kind not in :data:`SWE_KINDS`.
    """
    actions = oracle_actions(task)
    if kind == "none":
        return unperturbed(actions)
    if kind == "submit_early":
        return submit_early(env, task, actions, rng)
    if kind == "repeat":
        return repeat(env, task, actions, rng)
    raise ValueError(f"unknown perturbation kind {kind!r}; use one of {SWE_KINDS}")
