"""Data-family perturbations: oracle action lists made wrong at a known step.

The data oracle runs a task's reference code in the kernel, then answers. These functions
break that list in one place, so the first wrong step is known by construction (as
ProcessBench labels solutions, arXiv 2412.06559). Kinds:

- ``none``: the oracle list unchanged (first error -1);
- ``wrong_code``: the reference cell reads a random half of a table's rows
  (``.sample(frac=0.5)``), a silent error; the answer is what that cell computes;
- ``corrupt_table``: a cell inserted before the reference cell overwrites a table file with a
  random half of its rows; the reference cell then computes from the damaged file and the answer
  is what it computes;
- ``wrong_answer``: one part of the final answer replaced by a plausible wrong value;
- ``repeat``: an identical copy of the reference cell run again before answering, a wasted step
  (as a repeated search is in the search family).

Every wrong list is checked to be wrong where it claims: a wrong answer never grades as
correct, and both code kinds are run in the env's own sandboxed kernel, kept only when the cell
runs cleanly and the answer it leads to grades as wrong (so the error is silent and its effect
real). Every choice is drawn from the ``random.Random`` passed in, so a seed fixes the set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from prmgym.envs.data.answers import grade, parse_number, value_matches
from prmgym.envs.data.env import DataEnv
from prmgym.envs.data.oracle import answer_text, oracle_actions, shown
from prmgym.envs.data.tasks import DataTask
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.task import Task

DATA_KINDS: tuple[str, ...] = ("none", "wrong_code", "corrupt_table", "wrong_answer", "repeat")
"""Perturbation kinds of the data family; ``none`` is the unperturbed oracle."""

_READ = re.compile(r"""pd\.read_csv\((["'][^"'\n]+["'])\)""")
_TRIES = 3
_ANSWER_PROBE = '__probe_result__ = globals().get("answer")'


def python_action(code: str) -> str:
    """The ``python`` action running ``code``, written as the oracle writes it."""
    return f"python({code!r})"


def answer_action(values: Mapping[str, str]) -> str:
    """The ``answer`` action replying ``values``, written as the oracle writes it."""
    return f"answer({answer_text(dict(values))!r})"


def unperturbed(actions: Sequence[str]) -> Perturbation:
    """The oracle list as it is: every step right."""
    return Perturbation(tuple(actions), -1, "none")


def computed_answer(env: DataEnv, task: Task, cells: Sequence[str]) -> dict[str, str] | None:
    """The ``answer`` dict the cells leave in a fresh episode of ``task``'s kernel.

    Resets ``env`` to the task, so call it between episodes.

    Returns:
        The parts by name, or None when a cell raised, timed out or crashed the kernel, or
        left no ``answer`` dict of text.
    """
    env.reset(options={"task_id": task.id})
    for cell in cells:
        _, _, _, _, info = env.step(python_action(cell))
        if info.get("action_error") or info.get("error") or info.get("timed_out"):
            return None
        if info.get("kernel_restarted"):
            return None
    value = env.probe.evaluate(_ANSWER_PROBE)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(name): v for name, v in value.items()}


def _wrong_for(data_task: DataTask, values: Mapping[str, str]) -> bool:
    """Whether a reply with every expected part present grades as wrong."""
    return (
        set(data_task.answers) <= set(values)
        and not grade(values, data_task.answers, data_task.tolerance).correct
    )


def _silently_wrong(
    env: DataEnv,
    task: Task,
    cells: Sequence[str],
    position: int,
    kind: str,
) -> Perturbation | None:
    """Cells then the answer they compute, kept when the code runs and that answer is wrong."""
    data_task = DataTask.from_task(task)
    values = computed_answer(env, task, cells)
    if values is None or not _wrong_for(data_task, values):
        return None
    actions = (*(python_action(cell) for cell in cells), answer_action(values))
    return Perturbation(actions, position, kind)


def wrong_code(env: DataEnv, task: Task, rng: random.Random) -> Perturbation | None:
    """Make the reference cell read a random half of one table, and answer what it computes.

    Args:
        env: The unwrapped data env; the wrong cell runs in its kernel (it is reset).
        task: A task with reference code reading its tables with ``pd.read_csv("file")``.
        rng: Source of the table and the sample's seed.

    Returns:
        The perturbed list (first error 0, the reference cell), or None when the task has no
        such read, or no draw both runs and leads to a wrong answer.
    """
    data_task = DataTask.from_task(task)
    reads = list(_READ.finditer(data_task.reference_code))
    if not reads:
        return None
    for _ in range(_TRIES):
        read = rng.choice(reads)
        sampled = f"{read.group(0)}.sample(frac=0.5, random_state={rng.randrange(1000)})"
        code = (
            data_task.reference_code[: read.start()]
            + sampled
            + data_task.reference_code[read.end() :]
        )
        made = _silently_wrong(env, task, [shown(code)], 0, "wrong_code")
        if made is not None:
            return made
    return None


def corrupt_table(env: DataEnv, task: Task, rng: random.Random) -> Perturbation | None:
    """Insert a cell saving a random half of a table's rows over its file, before the reference.

    Args:
        env: The unwrapped data env; the cells run in its kernel (it is reset).
        task: A task with reference code.
        rng: Source of the table and the sample's seed.

    Returns:
        The perturbed list (first error 0, the inserted cell), or None when the task has no
        reference code, or no draw leads to a wrong answer.
    """
    data_task = DataTask.from_task(task)
    if not data_task.has_reference:
        return None
    files = data_task.files()
    for _ in range(_TRIES):
        name = rng.choice(files)
        corruption = (
            "import pandas as pd\n\n"
            f"table = pd.read_csv({name!r})\n"
            f"table.sample(frac=0.5, random_state={rng.randrange(1000)})"
            f".to_csv({name!r}, index=False)\n"
        )
        made = _silently_wrong(
            env, task, [corruption, shown(data_task.reference_code)], 0, "corrupt_table"
        )
        if made is not None:
            return made
    return None


def _decimals(text: str) -> int:
    fraction = text.strip().partition(".")[2]
    return len(fraction) if fraction.isdigit() else 0


def _wrong_number(text: str, tolerance: float, rng: random.Random) -> str | None:
    """A number near ``text`` (same decimals), off by 5-25% of it and by more than tolerance."""
    number = parse_number(text, grouped=True)
    if number is None:
        return None
    places = _decimals(text)
    unit = Decimal(1).scaleb(-places)
    step = max(abs(number) * Decimal(repr(rng.uniform(0.05, 0.25))), unit, Decimal(tolerance) * 2)
    wrong = number + step * rng.choice((-1, 1))
    return f"{wrong.quantize(unit)}" if places else str(int(wrong.to_integral_value()))


def _wrong_text(
    expected: str, pool: Sequence[str], tolerance: float, rng: random.Random
) -> str | None:
    candidates = sorted(
        {
            v
            for v in pool
            if parse_number(v, grouped=True) is None and not value_matches(v, expected, tolerance)
        }
    )
    return rng.choice(candidates) if candidates else None


def answer_pool(tasks: Sequence[Task], task: Task) -> list[str]:
    """Other tasks' answer values about the same tables (all other tasks' if none share them)."""
    tables = set(task.metadata.get("tables", []))
    others = [t for t in tasks if t.id != task.id]
    related = [t for t in others if tables & set(t.metadata.get("tables", []))] or others
    return [str(v) for t in related for v in t.privileged.get("answers", {}).values()]


def wrong_answer(
    task: Task, actions: Sequence[str], pool: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Replace one part of the final answer with a plausible wrong value.

    A number moves by 5-25% of itself (at least one unit of its last decimal and twice its
    tolerance); a text takes another task's value about the same tables.

    Args:
        task: The task; its answers and tolerance decide what is wrong.
        actions: The oracle's action list, ending with its answer.
        pool: Plausible values for text parts (see :func:`answer_pool`).
        rng: Source of the part and its value.

    Returns:
        The perturbed list, or None when no part can be made wrong.
    """
    data_task = DataTask.from_task(task)
    tolerances = data_task.tolerance
    names = list(data_task.answers)
    rng.shuffle(names)
    for name in names:
        expected = data_task.answers[name]
        tolerance = tolerances.get(name, 0.0) if isinstance(tolerances, dict) else tolerances
        if parse_number(expected, grouped=True) is not None:
            value = _wrong_number(expected, tolerance, rng)
        else:
            value = _wrong_text(expected, pool, tolerance, rng)
        answers = {**data_task.answers, name: value} if value is not None else {}
        if answers and _wrong_for(data_task, answers):
            replacement = answer_action(answers)
            return Perturbation((*actions[:-1], replacement), len(actions) - 1, "wrong_answer")
    return None


def repeat(actions: Sequence[str]) -> Perturbation | None:
    """Run the last code cell again, unchanged, right before the answer: a wasted step.

    Returns:
        The perturbed list, or None when the list has no code cell to repeat.
    """
    if len(actions) < 2:
        return None
    position = len(actions) - 1
    return Perturbation((*actions[:-1], actions[-2], actions[-1]), position, "repeat")


def perturb_data(env: DataEnv, task: Task, kind: str, rng: random.Random) -> Perturbation | None:
    """One perturbation of ``kind`` of the oracle's actions for ``task`` in a data env.

    Args:
        env: The unwrapped env: its kernel runs wrong code (it is reset), its tasks supply
            plausible wrong answers.
        task: The task to perturb.
        kind: One of :data:`DATA_KINDS`.
        rng: Source of every choice.

    Returns:
        The perturbation, or None where this task admits no such kind.

    Raises:
        ValueError: For a kind not in :data:`DATA_KINDS`.
    """
    actions = oracle_actions(task)
    if kind == "none":
        return unperturbed(actions)
    if kind == "wrong_code":
        return wrong_code(env, task, rng)
    if kind == "corrupt_table":
        return corrupt_table(env, task, rng)
    if kind == "wrong_answer":
        return wrong_answer(task, actions, answer_pool(env.tasks, task), rng)
    if kind == "repeat":
        return repeat(actions)
    raise ValueError(f"unknown perturbation kind {kind!r}; use one of {DATA_KINDS}")


PERTURBATIONS = FamilyPerturbations(perturb_data, DATA_KINDS)
"""The data family's ``perturbations`` piece (see ``prmgym.envs.data.family``)."""
