"""Data tasks: a question about tables, how to compute it, its answer format and its answers.

A :class:`DataTask` follows InfiAgent-DABench's question schema (``question``, ``constraints``,
``format``, ``concepts``, ``level``) and adds what an environment, its verifier and its oracle
need: the tables that seed the workspace, reference code that computes the answers, and the
expected answers with their tolerance.

Episode flow, as an environment runs it::

    task = DataTask.from_task(generic_task)        # or load_task_file("data-lite")[i]
    files = seed_workspace(task, workspace)        # the tables, as CSV files
    prompt = task.instruction()                    # question, constraints, format, files
    ...                                            # the agent works; it replies @name[value]
    result = grade(parse_answers(reply).values, task.answers, task.tolerance)

Task files are JSONL, one :class:`DataTask` record per line (or a prmgym ``Task`` record from
:meth:`DataTask.to_task`); errors name file, line and field.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prmgym.envs.data.answers import DEFAULT_TOLERANCE
from prmgym.envs.data.tables import TABLES, table_file, write_tables
from prmgym.envs.task_files import first_error, load_family_tasks
from prmgym.errors import TaskError
from prmgym.task import Task

FAMILY = "data"

Level = Literal["easy", "medium", "hard"]


class DataTask(BaseModel):
    """One data-analysis question with everything needed to pose, solve and grade it.

    Tables come from one of two places. With ``tables_dir`` unset, ``tables`` names built-in
    tables (:data:`prmgym.envs.data.tables.TABLES`), each written into the workspace as
    ``<name>.csv``. With ``tables_dir`` set (a DABench folder such as ``da-dev-tables``),
    ``tables`` holds plain file names inside it, copied as they are. Either way
    :func:`seed_workspace` puts them in place and :meth:`files` names them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Unique within its task set, e.g. ``"penguins/mean-body_mass_g"`` or ``"dabench/0"``."""
    question: str = Field(min_length=1)
    """What to find out, as the agent reads it."""
    constraints: str = ""
    """How to compute it: methods, filters, rounding and tie rules."""
    format: str = Field(min_length=1)
    """The expected ``@name[value]`` parts and what each value looks like (DABench style)."""
    tables: list[str] = Field(min_length=1)
    """Built-in table names, or file names inside ``tables_dir``."""
    tables_dir: str | None = None
    """The folder holding the table files; None for built-in tables."""
    reference_code: str = ""
    """Python that computes the answers, run with the table files in its working directory.
    It imports what it uses and ends by assigning ``answer = {name: formatted text}``. Empty
    where none is published (DABench): such a task can be graded but not solved by an oracle."""
    answers: dict[str, str] = Field(min_length=1)
    """The expected value of each part, as answer text."""
    tolerance: float | dict[str, float] = DEFAULT_TOLERANCE
    """Absolute tolerance for numeric parts: one for all, or per part name (see
    :func:`prmgym.envs.data.answers.grade`)."""
    level: Level
    concepts: list[str] = Field(default_factory=list)
    """What the task exercises: ``group-by``, ``join``, ... (DABench: ``Summary Statistics``)."""
    split: str = "test"

    @model_validator(mode="after")
    def _consistent(self) -> DataTask:
        for name in self.answers:
            if not re.fullmatch(r"\w+", name):
                raise ValueError(
                    f"answer name {name!r} cannot appear in @name[...]; use letters, digits, '_'"
                )
        tolerances = self.tolerance if isinstance(self.tolerance, dict) else {"*": self.tolerance}
        for name, value in tolerances.items():
            if value < 0:
                raise ValueError(f"tolerance {value} for {name!r} is negative; use a number >= 0")
        unknown = set(tolerances) - set(self.answers) - {"*"}
        if unknown:
            raise ValueError(f"tolerance names parts {sorted(unknown)} that answers does not have")
        if self.tables_dir is None:
            missing = [name for name in self.tables if name not in TABLES]
            if missing:
                raise ValueError(
                    f"unknown built-in tables {missing}; built-in tables are"
                    f" {', '.join(sorted(TABLES))} (set tables_dir for files of your own)"
                )
        else:
            for name in self.tables:
                if Path(name).name != name or name in {"", ".", ".."}:
                    raise ValueError(f"table file {name!r} must be a plain file name in tables_dir")
        return self

    @property
    def has_reference(self) -> bool:
        """Whether the task carries reference code an oracle can run."""
        return bool(self.reference_code.strip())

    def files(self) -> list[str]:
        """The table files the workspace holds, by name."""
        if self.tables_dir is None:
            return [table_file(name) for name in self.tables]
        return list(self.tables)

    def instruction(self) -> str:
        """The text shown to the agent: question, constraints, answer format and files."""
        sections = [self.question]
        if self.constraints:
            sections.append(f"Constraints: {self.constraints}")
        sections.append(f"Answer format: {self.format}")
        sections.append("Files in the working directory: " + ", ".join(self.files()))
        return "\n\n".join(sections)

    def to_task(self) -> Task:
        """The generic task: the instruction shown; everything else in ``privileged``."""
        return Task(
            id=self.id,
            family=FAMILY,
            instruction=self.instruction(),
            privileged=self.model_dump(mode="json", exclude={"id", "split"}),
            split=self.split,
            metadata={"level": self.level, "concepts": self.concepts, "tables": self.tables},
        )

    @classmethod
    def from_task(cls, task: Task) -> DataTask:
        """The data task a :meth:`to_task` task holds.

        Raises:
            TaskError: The task is of another family or its privileged data is not a data task.
        """
        if task.family != FAMILY:
            raise TaskError(f"task {task.id!r} is a {task.family!r} task, not a {FAMILY!r} task")
        try:
            return cls.model_validate({**task.privileged, "id": task.id, "split": task.split})
        except ValidationError as exc:
            field, message = first_error(exc)
            raise TaskError(f"task {task.id!r}: field 'privileged.{field}': {message}") from None


def seed_workspace(task: DataTask, folder: str | Path) -> list[str]:
    """Put the task's tables into ``folder`` (created if needed); return their file names.

    Raises:
        TaskError: A table file of a ``tables_dir`` task is missing.
    """
    folder = Path(folder)
    if task.tables_dir is None:
        return [path.name for path in write_tables(task.tables, folder)]
    source = Path(task.tables_dir)
    missing = [name for name in task.tables if not (source / name).is_file()]
    if missing:
        raise TaskError(f"task {task.id!r}: table files {missing} not found in {source}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in task.tables:
        shutil.copyfile(source / name, folder / name)
    return list(task.tables)


def run_reference(task: DataTask, folder: str | Path) -> dict[str, str]:
    """Run a task's reference code on this host, in ``folder``; return its ``answer`` dict.

    For building task sets and for tests: the code is ours, never model output. It runs in a
    fresh namespace with ``folder`` as the working directory (process-wide while it runs, so
    call it from one thread). Environments run reference code in their sandboxed kernel.

    Raises:
        TaskError: The task has no reference code, the code fails, or it does not leave
            ``answer`` as a dict of names to text.
    """
    if not task.has_reference:
        raise TaskError(
            f"task {task.id!r} has no reference code (DABench publishes none): it can be graded"
            " against its answers but not solved by running reference code"
        )
    namespace: dict[str, Any] = {"__name__": "__reference__"}
    code = compile(task.reference_code, f"<reference code of {task.id}>", "exec")
    with contextlib.chdir(folder):
        try:
            exec(code, namespace)
        except Exception as exc:
            raise TaskError(
                f"task {task.id!r}: reference code failed: {type(exc).__name__}: {exc}"
            ) from exc
    answer = namespace.get("answer")
    if not isinstance(answer, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in answer.items()
    ):
        raise TaskError(
            f"task {task.id!r}: reference code must end by assigning answer = {{name: text}}"
            f" with formatted string values; got {answer!r:.200}"
        )
    return answer


def load_task_file(name_or_path: str | Path) -> list[DataTask]:
    """Load data tasks from JSONL: DataTask records, or prmgym Task records holding them.

    Args:
        name_or_path: A file, or the name of a packaged task set (``data-lite``).

    Raises:
        TaskError: The file is missing, a line is not a valid task (naming file, line and
            field), or an id repeats.
    """
    required = "id, question, format, tables, answers, level"
    return load_family_tasks(name_or_path, DataTask, "data task", required)
