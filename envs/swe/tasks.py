"""SWE tasks in the SWE-bench instance schema, plus where their code comes from offline.

A task is an SWE-bench instance (``instance_id``, ``repo``, ``base_commit``,
``problem_statement``, ``patch``, ``test_patch``, ``FAIL_TO_PASS``, ``PASS_TO_PASS``) with a
local ``source``: a git repository on this machine (checked out at ``base_commit``), or a PyPI
sdist (``name==version``, downloaded once and cached). A synthesized task also carries the
``mutation`` that plants its bug; task files hold that recipe, never third-party code, and the
workspace is rebuilt from it (:mod:`prmgym.envs.swe.workspace`).

Resolved means the SWE-bench rule: every FAIL_TO_PASS test passes and every PASS_TO_PASS test
still passes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prmgym.envs.suites import task_file
from prmgym.errors import TaskError
from prmgym.jsonl import location, read_json_objects
from prmgym.task import Task, validate_task

FAMILY = "swe"


class LocalSource(BaseModel):
    """Where a task's repository comes from without a network at episode time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["git", "sdist"]
    path: str | None = None
    """``git``: the repository's folder on this machine."""
    requirement: str | None = None
    """``sdist``: ``name==version`` of a PyPI source distribution."""

    @model_validator(mode="after")
    def _one_location(self) -> LocalSource:
        if self.kind == "git" and not self.path:
            raise ValueError("a git source needs path: the repository's folder")
        if self.kind == "sdist" and (not self.requirement or "==" not in self.requirement):
            raise ValueError("an sdist source needs requirement: NAME==VERSION")
        return self


class MutationRecipe(BaseModel):
    """How to plant a synthesized bug again: which span of which file, changed how.

    It identifies the original text by its hash only, so a task file carries no third-party
    code; the mutation is refused if the file at that span no longer hashes the same.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    """Path of the mutated file, relative to the repository root."""
    kind: str
    """The operator: ``flip_compare``, ``flip_binop``, ``change_constant``, ..."""
    line: int
    col: int
    end_line: int
    end_col: int
    original_sha256: str
    """SHA-256 of the original text of the span (UTF-8)."""
    seed: int
    """The seed the synthesis drew this mutation with."""
    description: str = ""
    """What changed, in words and without quoting code."""


class SWEInstance(BaseModel):
    """One SWE task: an SWE-bench instance plus its local source and bug recipe."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    instance_id: str = Field(min_length=1)
    repo: str
    base_commit: str
    """A commit of a git source; for an sdist, the ``name==version`` it was built from."""
    problem_statement: str = Field(min_length=1)
    patch: str = ""
    """The gold fix as a unified diff (SWE-bench); synthesized tasks derive it from the recipe."""
    test_patch: str = ""
    """Tests the fix added (SWE-bench), applied before grading and never shown to the agent."""
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    source: LocalSource
    mutation: MutationRecipe | None = None
    environment: str | None = None
    """The test-environment spec (a catalog key) its tests run in."""
    split: str = "test"

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_lists(cls, value: Any) -> Any:
        # SWE-bench's own files store these lists as JSON strings.
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _something_to_fix(self) -> SWEInstance:
        if not self.FAIL_TO_PASS:
            raise ValueError("FAIL_TO_PASS is empty: a task needs a failing test to fix")
        return self

    def to_task(self) -> Task:
        """The generic :class:`~prmgym.task.Task`: the statement shown, the rest privileged."""
        return Task(
            id=self.instance_id,
            family=FAMILY,
            instruction=self.problem_statement,
            privileged={"instance": self.model_dump(mode="json")},
            split=self.split,
            metadata={"repo": self.repo, "base_commit": self.base_commit},
        )

    @classmethod
    def from_task(cls, task: Task) -> SWEInstance:
        """The instance a :meth:`to_task` task (or a task file line in this schema) holds."""
        record = task.privileged.get("instance")
        if record is None:
            raise ValueError(f"task {task.id!r} holds no SWE instance in privileged.instance")
        return cls.model_validate(record)


def load_instances(
    tasks: Sequence[Task | SWEInstance] | None, tasks_file: str | Path | None, split: str
) -> list[SWEInstance]:
    """The instances an env runs: given ones as they are, else a file's or the demo's split."""
    if tasks is not None and tasks_file is not None:
        raise ValueError("give tasks or tasks_file, not both")
    if tasks is not None:
        return [t if isinstance(t, SWEInstance) else instance_from_task(t) for t in tasks]
    if tasks_file is not None:
        instances = list(read_task_file(task_file(tasks_file)))
    else:
        from prmgym.envs.swe.demo import demo_instances

        instances = demo_instances()
    chosen = [i for i in instances if split == "all" or i.split == split]
    if not chosen:
        splits = sorted({i.split for i in instances})
        raise ValueError(f"no SWE tasks in split {split!r}; the splits are {splits} and 'all'")
    return chosen


def instance_from_task(task: Task) -> SWEInstance:
    """The SWE instance a prmgym task holds; a TaskError names the task if it holds none."""
    try:
        return SWEInstance.from_task(task)
    except ValueError as exc:
        raise TaskError(f"task {task.id!r} is not an SWE task: {exc}") from None


def read_task_file(path: str | Path) -> list[SWEInstance]:
    """SWE-bench records (with ``source``), or prmgym task records holding one."""
    from pydantic import ValidationError

    instances: list[SWEInstance] = []
    seen: set[str] = set()
    for lineno, record in read_json_objects(path, "SWE task"):
        where = location(path, lineno)
        try:
            if "privileged" in record:
                instance = instance_from_task(validate_task(record, where))
            else:
                instance = SWEInstance.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "<record>"
            raise TaskError(f"{where}: field '{field}': {first['msg']}") from None
        if instance.instance_id in seen:
            raise TaskError(f"{where}: duplicate instance_id {instance.instance_id!r}")
        seen.add(instance.instance_id)
        instances.append(instance)
    return instances
