"""Loading ProcessBench (Qwen/ProcessBench, arXiv 2412.06559) as labelled trajectories.

ProcessBench gives competition-math solutions split into steps, each labelled with the index
of its earliest wrong step (-1 when all are right). A record is::

    {"id": "gsm8k-0", "problem": "...", "steps": ["...", "..."], "label": 1,
     "generator": "Qwen2-7B-Instruct", "final_answer_correct": false}

Files may be a JSON list of such records or JSONL, one per line. Each becomes a
:class:`LabeledTrajectory` whose task has family ``processbench`` (no env: PRMs score it from
text alone) and whose steps carry the step text as the action and an empty observation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prmgym.errors import TaskError
from prmgym.jsonl import location, read_json_objects
from prmgym.rewards.evaluation.labeled import LabeledTrajectory
from prmgym.task import Task
from prmgym.trajectory import Step, Trajectory

FAMILY = "processbench"
"""Task family of loaded items."""

_FORMAT_HINT = (
    "each record needs id, problem (text), steps (list of texts) and label (index of the first"
    " wrong step, -1 if none); generator and final_answer_correct are optional"
)


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)``: a JSON list by item number, else JSONL by line number."""
    if not path.is_file():
        raise TaskError(f"{path}: ProcessBench file not found")
    with path.open(encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
    if not head.startswith("["):
        for lineno, record in read_json_objects(path, "ProcessBench"):
            yield location(path, lineno), record
        return
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskError(
            f"{location(path, exc.lineno)}: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    for number, record in enumerate(records):
        yield f"{path}, item {number}", record


def _fail(where: str, problem: str) -> TaskError:
    return TaskError(f"{where}: {problem}; {_FORMAT_HINT}")


def record_to_labeled(record: Any, where: str) -> LabeledTrajectory:
    """Validate one ProcessBench record and turn it into a labelled trajectory.

    Args:
        record: The parsed record.
        where: Its place (file and line or item), named in errors.

    Raises:
        TaskError: A field is missing or malformed; the message names ``where`` and the field.
    """
    if not isinstance(record, dict):
        raise _fail(where, f"expected a JSON object, got {type(record).__name__}")
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, str | int) or record_id == "":
        raise _fail(where, f"field 'id' must be a non-empty string or number, got {record_id!r}")
    problem = record.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        raise _fail(where, "field 'problem' must be non-empty text")
    steps = record.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise _fail(where, "field 'steps' must be a non-empty list of texts")
    label = record.get("label")
    if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
        raise _fail(
            where,
            f"field 'label' must be a whole number from -1 to {len(steps) - 1}, got {label!r}",
        )
    answer_correct = record.get("final_answer_correct")
    if answer_correct is not None and not isinstance(answer_correct, bool):
        raise _fail(where, "field 'final_answer_correct' must be true or false")
    generator = record.get("generator")
    task = Task(
        id=str(record_id),
        family=FAMILY,
        instruction=problem,
        privileged={"first_error": label, "final_answer_correct": answer_correct},
        metadata={"generator": generator} if generator is not None else {},
    )
    trajectory = Trajectory(
        task=task,
        agent=str(generator or ""),
        steps=[Step(index=i, action=text, observation="") for i, text in enumerate(steps)],
        # Without the field, an all-right solution is taken to end in a right answer.
        success=answer_correct if answer_correct is not None else label == -1,
        terminated=True,
    )
    kind = "none" if label == -1 else "step_error"
    return LabeledTrajectory(trajectory=trajectory, first_error=label, kind=kind)


def load_processbench(path: str | Path) -> list[LabeledTrajectory]:
    """Load a ProcessBench file (JSON list or JSONL) as labelled trajectories.

    Args:
        path: A file such as ProcessBench's ``gsm8k.json`` or a JSONL export of a subset.

    Returns:
        One item per record, in file order.

    Raises:
        TaskError: The file is missing, not JSON, holds a malformed record, or repeats an id;
            the message names the file and the line or item.
    """
    path = Path(path)
    items: list[LabeledTrajectory] = []
    seen: dict[str, str] = {}
    for where, record in _records(path):
        item = record_to_labeled(record, where)
        task_id = item.trajectory.task.id
        if task_id in seen:
            raise TaskError(f"{where}: duplicate id {task_id!r} (first at {seen[task_id]})")
        seen[task_id] = where
        items.append(item)
    return items
