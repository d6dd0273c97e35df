"""Web tasks: a goal on one site, the predicates that check it, and a plan that achieves it.

A :class:`WebTask` is solved on its ``site`` reset to its ``seed``, starting from
``start_path``. The agent sees only ``goal``. ``success`` lists predicates that must all hold
when the episode ends; ``checklist`` lists the subgoals on the way, in the order a solution
reaches them, for the web verifier's progress signal. A checklist item counts once it has
held at some step: later steps may undo it (placing an order empties the cart the previous
item checked). Information-seeking tasks carry their ``answer``; the agent replies with
``send_msg_to_user`` and ``success`` holds an ``answer_matches`` predicate for it.

Episode flow, as the web environment runs it::

    task = WebTask.from_task(generic_task)             # or load_task_file("web-lite")[i]
    server.reset(task.seed)
    page.goto(server.url(task.site) + task.start_path)
    ...                                                # the agent acts; the env tracks
    context = PredicateContext(server, page.url, last_message)
    solved = all(evaluate(p, context) for p in task.success)

Task files are JSONL, one :class:`WebTask` record per line (or a prmgym ``Task`` record from
:meth:`WebTask.to_task`); errors name file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prmgym.envs.task_files import first_error, load_family_tasks
from prmgym.envs.web.plans import OracleStep
from prmgym.envs.web.predicates import AnswerMatches, Predicate
from prmgym.envs.web.sites.server import SiteName
from prmgym.errors import TaskError
from prmgym.task import Task

FAMILY = "web"

Level = Literal["easy", "medium", "hard"]
Split = Literal["test", "train"]


class WebTask(BaseModel):
    """One task on one of the project's sites, with its checks and its oracle plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    """Unique within its task set, e.g. ``"shop/price/3"``."""
    site: SiteName
    start_path: str = Field(default="/", pattern=r"^/")
    """Where the episode starts, from the site's root."""
    goal: str = Field(min_length=1)
    """The instruction shown to the agent."""
    checklist: list[Predicate] = Field(min_length=1)
    """Subgoals in the order a solution reaches them."""
    success: list[Predicate] = Field(min_length=1)
    """What must all hold at the end."""
    answer: str | None = None
    """The expected reply of an information-seeking task; None for tasks that change state."""
    oracle: list[OracleStep] = Field(min_length=1)
    """Steps that solve the task from ``start_path`` on the site reset to ``seed``."""
    level: Level
    split: Split = "test"
    seed: int = Field(ge=0)
    """The seed of the site data the task was written for."""

    @model_validator(mode="after")
    def _answer_is_checked(self) -> WebTask:
        answers = [p.value for p in self.success if isinstance(p, AnswerMatches)]
        if self.answer is None and answers:
            raise ValueError("success checks an answer but the task has no answer; set answer")
        if self.answer is not None and self.answer not in answers:
            raise ValueError(
                f"answer {self.answer!r} is not checked: add answer_matches with that value to"
                " success"
            )
        return self

    def to_task(self) -> Task:
        """The generic task: the goal shown; everything else in ``privileged``."""
        return Task(
            id=self.id,
            family=FAMILY,
            instruction=self.goal,
            privileged=self.model_dump(mode="json", exclude={"id", "goal", "split"}),
            split=self.split,
            metadata={"site": self.site, "level": self.level, "seed": self.seed},
        )

    @classmethod
    def from_task(cls, task: Task) -> WebTask:
        """The web task a :meth:`to_task` task holds.

        Raises:
            TaskError: The task is of another family or its privileged data is not a web task.
        """
        if task.family != FAMILY:
            raise TaskError(f"task {task.id!r} is a {task.family!r} task, not a {FAMILY!r} task")
        record = {**task.privileged, "id": task.id, "goal": task.instruction, "split": task.split}
        try:
            return cls.model_validate(record)
        except ValidationError as exc:
            field, message = first_error(exc)
            raise TaskError(f"task {task.id!r}: field 'privileged.{field}': {message}") from None


def load_task_file(name_or_path: str | Path) -> list[WebTask]:
    """Load web tasks from JSONL: WebTask records, or prmgym Task records holding them.

    Args:
        name_or_path: A file, or the name of a packaged task set (``web-lite``).

    Raises:
        TaskError: The file is missing, a line is not a valid task (naming file, line and
            field), or an id repeats.
    """
    required = "id, site, goal, checklist, success, oracle, level, seed"
    return load_family_tasks(name_or_path, WebTask, "web task", required)
