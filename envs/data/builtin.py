"""The built-in data task set, shipped as ``envs/suites/data-lite.tasks.jsonl``.

Questions come from :mod:`prmgym.envs.data.questions`, one module per table. Answers are never
written by hand: each task's reference code runs against CSV files freshly written by
:func:`~prmgym.envs.data.tables.write_tables`, so they are exactly what the code gives on the
files an agent sees.

Splits are fixed per table: a quarter of each table's tasks, chosen by a hash of the task id,
is ``train``; the rest is ``test``. Tasks are ordered by a hash of their id, so any first N of
a split mixes tables and concepts.

Regenerate the shipped file after changing a question or a table::

    python -m prmgym.envs.data.builtin            # or build_task_file(path)
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from prmgym.envs.data.questions import GENERATORS
from prmgym.envs.data.specs import Spec, assemble
from prmgym.envs.data.tables import write_tables
from prmgym.envs.data.tasks import DataTask, run_reference
from prmgym.envs.task_files import write_task_file
from prmgym.errors import TaskError

TRAIN_FRACTION = 0.25
"""Share of each table's tasks in the ``train`` split."""

CONCEPTS = (
    "filter",
    "aggregation",
    "group-by",
    "join",
    "correlation",
    "regression",
    "missing-values",
    "dates",
    "ranking",
    "reshape",
)
"""Every concept a built-in task may name."""

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "suites" / "data-lite.tasks.jsonl"
"""Where the shipped task file lives in a source checkout."""


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def builtin_specs() -> list[Spec]:
    """Every built-in question, before answers are computed, in generator order."""
    return [item for generator in GENERATORS for item in generator()]


def _splits(specs: list[Spec]) -> dict[str, str]:
    by_table: dict[str, list[str]] = defaultdict(list)
    for item in specs:
        by_table[item.table].append(item.task_id)
    splits = {}
    for ids in by_table.values():
        ranked = sorted(ids, key=_hash)
        n_train = round(len(ranked) * TRAIN_FRACTION)
        splits.update(
            {task_id: "train" if i < n_train else "test" for i, task_id in enumerate(ranked)}
        )
    return splits


def builtin_tasks() -> list[DataTask]:
    """Generate the built-in tasks, computing every answer by running its reference code.

    Returns:
        Tasks ordered by a hash of their id; the same package versions give identical tasks.

    Raises:
        TaskError: A reference code fails or does not give exactly its task's parts.
    """
    specs = builtin_specs()
    splits = _splits(specs)
    tables = sorted({table for item in specs for _, table in item.reads})
    tasks = []
    with tempfile.TemporaryDirectory(prefix="prmgym-data-") as folder:
        write_tables(tables, folder)
        for item in specs:
            names = [part.name for part in item.parts]
            draft = assemble(item, dict.fromkeys(names, ""), "test")
            answers = run_reference(draft, folder)
            if list(answers) != names:
                raise TaskError(
                    f"task {draft.id!r}: reference code gave parts {list(answers)}, expected"
                    f" {names}"
                )
            tasks.append(assemble(item, answers, splits[draft.id]))
    return sorted(tasks, key=lambda task: _hash(task.id))


def build_task_file(path: str | Path = DEFAULT_PATH) -> Path:
    """Generate the built-in tasks and write them as JSONL to ``path``; return the path."""
    path = Path(path)
    write_task_file(path, builtin_tasks())
    return path


if __name__ == "__main__":
    print(build_task_file(*sys.argv[1:2]))
