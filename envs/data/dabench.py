"""InfiAgent-DABench as published, loaded as data tasks.

InfiAgent-DABench (Hu et al., 2024) ships its dev set in ``examples/DA-Agent/data`` of the
InfiAgent repository:

- ``da-dev-questions.jsonl``: one question per line, with ``id``, ``question``, ``concepts``,
  ``constraints``, ``format``, ``file_name`` and ``level``;
- ``da-dev-labels.jsonl``: ``id`` and ``common_answers``, a list of ``[name, value]`` pairs;
- ``da-dev-tables/``: the CSV files the questions name.

Each question becomes a :class:`~prmgym.envs.data.tasks.DataTask` with id ``dabench/<id>``,
its file as the only table (``tables_dir`` is the tables folder, so
:func:`~prmgym.envs.data.tasks.seed_workspace` copies the file as it is), the labels as
answers and DABench's tolerance of 1e-6. DABench publishes no reference code, so
``reference_code`` is empty: these tasks can be graded, but an oracle cannot solve them
(``task.has_reference`` is False). Grading follows
:func:`~prmgym.envs.data.answers.grade`, which accepts every answer DABench's exact match does.

Usage::

    tasks = load_dabench_folder("InfiAgent/examples/DA-Agent/data")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prmgym.envs.data.answers import DEFAULT_TOLERANCE, format_expected
from prmgym.envs.data.tasks import DataTask, Level
from prmgym.errors import TaskError
from prmgym.jsonl import location, read_json_objects

QUESTIONS_FILE = "da-dev-questions.jsonl"
LABELS_FILE = "da-dev-labels.jsonl"
TABLES_DIR = "da-dev-tables"

Record = TypeVar("Record", bound=BaseModel)


class DABenchQuestion(BaseModel):
    """One line of ``da-dev-questions.jsonl``; fields DABench may add later are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int | str
    question: str = Field(min_length=1)
    concepts: list[str] = Field(default_factory=list)
    constraints: str = ""
    format: str = Field(min_length=1)
    file_name: str = Field(min_length=1)
    level: Level


class DABenchLabel(BaseModel):
    """One line of ``da-dev-labels.jsonl``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int | str
    common_answers: list[tuple[str, str | int | float | bool]] = Field(min_length=1)
    """``[name, value]`` pairs, in the order the format lists them."""


def _validate(model: type[Record], record: dict[str, Any], where: str, fields: str) -> Record:
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "<record>"
        raise TaskError(f"{where}: field '{field}': {first['msg']} ({fields})") from None


def _labels(path: Path) -> dict[str, dict[str, str]]:
    answers: dict[str, dict[str, str]] = {}
    for lineno, record in read_json_objects(path, "DABench labels"):
        where = location(path, lineno)
        label = _validate(
            DABenchLabel,
            record,
            where,
            "a label needs id and common_answers, a list of [name, value] pairs",
        )
        key = str(label.id)
        if key in answers:
            raise TaskError(f"{where}: duplicate label id {label.id!r}")
        answers[key] = {name: format_expected(value) for name, value in label.common_answers}
    return answers


def load_dabench(
    questions: str | Path,
    labels: str | Path,
    tables: str | Path,
    *,
    split: str = "test",
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[DataTask]:
    """Load DABench questions with their labels as data tasks, in the questions' order.

    Labels without a question are ignored, so a subset of the questions file loads too.

    Args:
        questions: ``da-dev-questions.jsonl``.
        labels: ``da-dev-labels.jsonl``.
        tables: The ``da-dev-tables`` folder.
        split: The split every task is put in.
        tolerance: The absolute tolerance for numeric answers (DABench's is 1e-6).

    Raises:
        TaskError: A file or the tables folder is missing, a line is malformed, an id repeats,
            a question has no label, or a question's table file is missing; each names the
            file and line.
    """
    questions, labels, tables = Path(questions), Path(labels), Path(tables)
    if not tables.is_dir():
        raise TaskError(f"{tables}: DABench tables folder not found (it holds the CSV files)")
    answers = _labels(labels)
    tasks: list[DataTask] = []
    seen: set[str] = set()
    for lineno, record in read_json_objects(questions, "DABench questions"):
        where = location(questions, lineno)
        item = _validate(
            DABenchQuestion,
            record,
            where,
            "a question needs id, question, format, file_name, level",
        )
        key = str(item.id)
        if key in seen:
            raise TaskError(f"{where}: duplicate question id {item.id!r}")
        seen.add(key)
        if key not in answers:
            raise TaskError(f"{where}: question id {item.id!r} has no label in {labels}")
        if not (tables / item.file_name).is_file():
            raise TaskError(f"{where}: file_name {item.file_name!r} not found in {tables}")
        try:
            task = DataTask(
                id=f"dabench/{key}",
                question=item.question,
                constraints=item.constraints,
                format=item.format,
                tables=[item.file_name],
                tables_dir=str(tables.resolve()),
                answers=answers[key],
                tolerance=tolerance,
                level=item.level,
                concepts=item.concepts,
                split=split,
            )
        except ValidationError as exc:
            raise TaskError(f"{where}: {exc.errors()[0]['msg']}") from None
        tasks.append(task)
    return tasks


def load_dabench_folder(
    folder: str | Path, *, split: str = "test", tolerance: float = DEFAULT_TOLERANCE
) -> list[DataTask]:
    """Load DABench from its published folder, as :func:`load_dabench` does.

    The folder holds :data:`QUESTIONS_FILE`, :data:`LABELS_FILE` and :data:`TABLES_DIR`.
    """
    folder = Path(folder)
    return load_dabench(
        folder / QUESTIONS_FILE,
        folder / LABELS_FILE,
        folder / TABLES_DIR,
        split=split,
        tolerance=tolerance,
    )
