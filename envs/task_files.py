"""Family task files: JSONL of a family's own task records, read with errors that locate them.

A family whose tasks carry more than :class:`~prmgym.task.Task` (a data task's reference
code, a web task's predicates) keeps them as a pydantic model with an ``id`` field and
``to_task``/``from_task`` methods. A task file holds one such record a line, or prmgym Task
records holding them; a bare name (``data-lite``) means the packaged set
(:func:`prmgym.envs.suites.task_file`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from prmgym.envs.suites import task_file
from prmgym.errors import TaskError
from prmgym.jsonl import location, read_json_objects
from prmgym.task import validate_task

M = TypeVar("M", bound=BaseModel)


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The first failing field's dotted path, and what is wrong with it."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "<record>", first["msg"]


def write_task_file(path: str | Path, tasks: Iterable[BaseModel]) -> None:
    """Write task records as JSONL, one a line, creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for task in tasks:
            fh.write(task.model_dump_json() + "\n")


def load_family_tasks(
    name_or_path: str | Path, model: type[M], what: str, required: str
) -> list[M]:
    """Load a family's tasks from JSONL: its own records, or prmgym Task records holding them.

    Args:
        name_or_path: A file, or the name of a packaged task set.
        model: The family's task model (it has ``id`` and a ``from_task`` classmethod).
        what: What a record is, for messages (``"data task"``).
        required: The model's required fields, named in a validation error.

    Raises:
        TaskError: The file is missing, a line is not a valid task (naming file, line and
            field), or an id repeats.
    """
    path = task_file(name_or_path)
    tasks: list[M] = []
    seen: dict[str, int] = {}
    for lineno, record in read_json_objects(path, what):
        where = location(path, lineno)
        if "family" in record and "privileged" in record:
            generic = validate_task(record, where)
            try:
                task = getattr(model, "from_task")(generic)  # noqa: B009 - not on BaseModel
            except TaskError as exc:
                raise TaskError(f"{where}: {exc}") from None
        else:
            try:
                task = model.model_validate(record)
            except ValidationError as exc:
                field, message = first_error(exc)
                raise TaskError(
                    f"{where}: field '{field}': {message} (required: {required})"
                ) from None
        task_id: Any = getattr(task, "id")  # noqa: B009 - every family's model has one
        if task_id in seen:
            raise TaskError(f"{where}: duplicate id {task_id!r} (first on line {seen[task_id]})")
        seen[task_id] = lineno
        tasks.append(task)
    return tasks
