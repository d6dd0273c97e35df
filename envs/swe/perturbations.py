"""SWE-family perturbations: oracle action lists made wrong at a known step.

The SWE oracle applies the gold patch one editor action per hunk, then submits. These
functions break that list in one place, so the first wrong step is known by construction (as
ProcessBench labels solutions, arXiv 2412.06559). Kinds:

- ``none``: the oracle list unchanged (first error -1);
- ``submit_early``: ``submit()`` after only some (possibly none) of the fix's edits, checked
  in the env to leave the task unresolved;
- ``wrong_edit``: one of the fix's edits of a Python file replaced by a plausible wrong one of
  the same place (same file and old text; the gold new text with one operator, boolean or
  integer of a changed line altered, or the old text kept with a comment added), checked to
  parse, to be accepted by the env and to leave the task unresolved while every later edit
  still applies;
- ``repeat``: an identical copy of one of the fix's edits right after it, checked in the env
  to change nothing (the env refuses it: its old text is gone) while the rest still resolves
  the task: a wasted step.

Every choice is drawn from the ``random.Random`` passed in, so a seed fixes the whole set.
"""

from __future__ import annotations

import ast
import io
import random
import tokenize
from collections.abc import Iterable, Sequence
from itertools import accumulate

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.envs.swe.env import SWEEnv
from prmgym.envs.swe.oracle import oracle_actions, test_action
from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.workspace import workspace_seed
from prmgym.task import Task

SWE_KINDS: tuple[str, ...] = ("none", "submit_early", "wrong_edit", "repeat")
"""Perturbation kinds of the SWE family; ``none`` is the unperturbed oracle."""

# Each wrong-edit candidate played costs a test run, so only a few are tried per task.
_TRIES = 3
# Operators and constants a wrong edit may turn into a near miss of the same kind.
_SWAPS: dict[str, tuple[str, ...]] = {
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "==": ("!=",),
    "!=": ("==",),
    "+": ("-",),
    "-": ("+",),
    "and": ("or",),
    "or": ("and",),
    "True": ("False",),
    "False": ("True",),
}
# An agent that misjudges the buggy line as right annotates it; the code stays as it was.
_NOTE = "# NOTE: this is the intended behaviour"


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


def _edit_count(task: Task, actions: Sequence[str]) -> int:
    """How many of the oracle's actions are the fix's edits: all but its test run and submit."""
    tail = (test_action(SWEInstance.from_task(task)), "submit()")
    return len(actions) - sum(action in tail for action in actions[-2:])


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
        actions: The oracle's action list: the fix's edits, maybe a test run, ``submit()``.
        rng: Source of how many edits come first.

    Returns:
        The perturbed list (first error: the submission), or None when that submission
        resolves the task after all.
    """
    edits = _edit_count(task, actions)
    done = rng.randrange(edits) if edits else 0
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
    edits = _edit_count(task, actions)
    if not edits:
        return None
    source = rng.randrange(edits)
    perturbed = (*actions[: source + 1], actions[source], *actions[source + 1 :])
    infos = _play(env, task, perturbed)
    refused = infos[source + 1].get("action_error") is not None
    if not refused or len(infos) != len(perturbed) or infos[-1]["reward"] != 1.0:
        return None
    return Perturbation(perturbed, source + 1, "repeat")


def wrong_edit(
    env: SWEEnv, task: Task, actions: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Replace one of the fix's edits by a plausible wrong edit of the same place.

    The wrong edit keeps the tool, the file and the old text; its new text is the gold one
    with one operator, boolean or integer of a changed line altered, or the old text with a
    comment line added above the line the fix changes. Only ``str_replace`` edits of Python
    files are candidates, and only variants after which the file still parses and every later
    edit of it still applies; a few drawn ones are then played.

    Args:
        env: The unwrapped SWE env the list is played in (it is reset) to check every edit
            is accepted and the task ends unresolved.
        task: The task the actions solve.
        actions: The oracle's action list, ending with ``submit()``.
        rng: Source of the edit and its wrong new text.

    Returns:
        The perturbed list (first error: the wrong edit), or None when the task has no such
        edit or no drawn one passes the checks.
    """
    seed = workspace_seed(SWEInstance.from_task(task))
    edits = {i: edit for i, action in enumerate(actions) if (edit := _python_edit(action))}
    candidates: list[tuple[int, str]] = []
    for i, (path, old, new) in edits.items():
        same_file = [(j, edit[1:]) for j, edit in edits.items() if edit[0] == path]
        source = (seed / path).read_text(encoding="utf-8")
        before = _replaced(source, [pair for j, pair in same_file if j < i])
        if before is None or before.count(old) != 1:
            continue
        later = [pair for j, pair in same_file if j > i]
        # dict.fromkeys, not a set: string hashes vary between runs, the draw must not.
        variants = dict.fromkeys([*_token_variants(before, old, new), _noted(old, new)])
        for variant in [v for v in variants if v not in (old, new)]:
            final = _replaced(before, [(old, variant), *later])
            if final is not None and _parses(final):
                candidates.append((i, variant))
    rng.shuffle(candidates)
    for i, variant in candidates[:_TRIES]:
        path, old, _ = edits[i]
        wrong = f"str_replace({path!r}, {old!r}, {variant!r})"
        perturbed = (*actions[:i], wrong, *actions[i + 1 :])
        infos = _play(env, task, perturbed)
        accepted = all(info.get("action_error") is None for info in infos)
        if accepted and len(infos) == len(perturbed) and infos[-1]["reward"] == 0.0:
            return Perturbation(perturbed, i, "wrong_edit")
    return None


def _python_edit(action: str) -> tuple[str, str, str] | None:
    """``(path, old, new)`` of a ``str_replace`` action on a Python file, else None."""
    call = parse_tool_call(action)
    if call.name != "str_replace" or call.kwargs or len(call.args) != 3:
        return None
    path, old, new = call.args
    if not (isinstance(path, str) and isinstance(old, str) and isinstance(new, str)):
        return None
    return (path, old, new) if path.endswith(".py") else None


def _replaced(text: str, edits: Iterable[tuple[str, str]]) -> str | None:
    """``text`` after each ``(old, new)`` replacement; None when an old text is not unique."""
    for old, new in edits:
        if text.count(old) != 1:
            return None
        text = text.replace(old, new, 1)
    return text


def _token_variants(before: str, old: str, new: str) -> list[str]:
    """The gold new text with one swappable token of a line the fix adds changed.

    The whole edited file is tokenized, since a hunk alone may not tokenize (it can start
    inside a block or a string).
    """
    at = before.index(old)
    after = before[:at] + new + before[at + len(old) :]
    lines = after.splitlines(keepends=True)
    starts = list(accumulate((len(line) for line in lines), initial=0))
    context = set(old.splitlines(keepends=True))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(after).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    variants: list[str] = []
    for token in tokens:
        replacements = _near_misses(token)
        if not replacements:
            continue
        row, column = token.start
        start = starts[row - 1] + column - at
        end = start + len(token.string)
        if start < 0 or end > len(new) or lines[row - 1] in context:
            continue
        variants += [new[:start] + replacement + new[end:] for replacement in replacements]
    return variants


def _near_misses(token: tokenize.TokenInfo) -> tuple[str, ...]:
    """What a token may wrongly become: a swapped operator or boolean, an integer off by one."""
    if token.type in (tokenize.OP, tokenize.NAME):
        return _SWAPS.get(token.string, ())
    if token.type == tokenize.NUMBER and token.string.isdigit():
        value = int(token.string)
        return (str(value + 1), str(value - 1)) if value > 0 else (str(value + 1),)
    return ()


def _noted(old: str, new: str) -> str:
    """``old`` kept, with a comment line above the first line the fix changes."""
    lines = old.splitlines(keepends=True)
    kept = set(new.splitlines(keepends=True))
    changed = [k for k, line in enumerate(lines) if line.strip() and line not in kept]
    anchor = changed[0] if changed else 0
    line = lines[anchor]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "".join([*lines[:anchor], f"{indent}{_NOTE}\n", *lines[anchor:]])


def _parses(source: str) -> bool:
    """Whether ``source`` is valid Python."""
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


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
    if kind == "wrong_edit":
        return wrong_edit(env, task, actions, rng)
    if kind == "repeat":
        return repeat(env, task, actions, rng)
    raise ValueError(f"unknown perturbation kind {kind!r}; use one of {SWE_KINDS}")


PERTURBATIONS = FamilyPerturbations(perturb_swe, SWE_KINDS)
"""The swe family's ``perturbations`` piece (see ``prmgym.envs.swe.family``)."""
