"""SQL-family perturbations: the oracle's action list made wrong at a known step.

As in ProcessBench (arXiv 2412.06559), each perturbed list has a known earliest wrong step:
start from the oracle's list (right at every step) and break it in one place. Kinds:

- ``none``: the oracle list unchanged (first error -1);
- ``wrong_query``: the gold query replaced by a near miss (the gold SQL with a flipped sort,
  comparison or filter) or another task's query, run on the database to check that its result
  does not hold the answer;
- ``wrong_answer``: the final answer replaced by a plausible wrong one (a ranking's runner-up,
  a neighbouring number, another task's answer), checked not to grade as correct;
- ``repeat``: an identical copy of an earlier step inserted before the answer.

Every choice is drawn from the ``random.Random`` passed in, so a seed fixes the whole set.
:func:`plausible_wrong_action` makes the noisy oracle's wrong actions from the same ideas.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.task import Task

from prmgym_sql.database import TABLES, ReadOnlyDatabase, format_value
from prmgym_sql.env import SQLEnv
from prmgym_sql.grading import answer_matches, cells_contain, normalize_answer
from prmgym_sql.oracle import oracle_actions
from prmgym_sql.tasks import shop_tasks

SQL_KINDS: tuple[str, ...] = ("none", "wrong_query", "wrong_answer", "repeat")
"""Perturbation kinds of the SQL family; ``none`` is the unperturbed oracle."""

_SWAPS: tuple[tuple[str, str], ...] = (
    (" DESC", " ASC"),
    (" ASC", " DESC"),
    (" > ", " < "),
    (" >= ", " > "),
    ("count(DISTINCT ", "count("),
    (" NOT IN ", " IN "),
    ("'shipped'", "'pending'"),
    ("'cancelled'", "'shipped'"),
    ("'pending'", "'shipped'"),
    ("min(", "max("),
    ("avg(", "max("),
    ("sum(quantity)", "count(quantity)"),
)
"""Edits that turn a right query into a near miss: one word of difference, another answer."""


def near_misses(sql: str) -> list[str]:
    """The gold SQL with one edit of :data:`_SWAPS` applied, for each edit that applies."""
    return [sql.replace(old, new, 1) for old, new in _SWAPS if old in sql]


def _cells(database: ReadOnlyDatabase, sql: str) -> list[str] | None:
    """Every cell of a query's result as shown, or None when the query fails."""
    result = database.run(sql, max_rows=1000)
    if result.error is not None:
        return None
    return [format_value(value) for row in result.rows for value in row]


def wrong_query(
    task: Task, actions: Sequence[str], env: SQLEnv, rng: random.Random
) -> Perturbation | None:
    """Replace the gold query with one that runs but whose result lacks the answer.

    Near misses of the gold SQL are preferred; other tasks' queries over a table the gold SQL
    reads come next. Candidates are run on the env's database, which is what makes the
    replaced step wrong: an agent reading its result cannot find the answer there.

    Returns:
        The perturbed list, or None when the list holds no query or no candidate qualifies.
    """
    tools = [parse_tool_call(action).name for action in actions]
    if "query" not in tools:
        return None
    position = tools.index("query")
    golds = list(task.privileged.get("answers", []))
    gold_tables = set(task.privileged.get("tables", []))
    others = sorted(
        {
            other.privileged["sql"]
            for other in env.tasks
            if other.id != task.id and gold_tables.intersection(other.privileged["tables"])
        }
    )
    for pool in (near_misses(task.privileged["sql"]), others):
        rng.shuffle(pool)
        for sql in pool:
            cells = _cells(env.database, sql)
            if cells and not cells_contain(cells, golds):
                replacement = f"query({json.dumps(sql, ensure_ascii=False)})"
                perturbed = [*actions[:position], replacement, *actions[position + 1 :]]
                return Perturbation(tuple(perturbed), position, "wrong_query")
    return None


def _neighbour(gold: str) -> str | None:
    """A number next to a numeric gold answer, or None for a text answer."""
    number = normalize_answer(gold)
    try:
        value = float(number)
    except ValueError:
        return None
    if value == int(value):
        return str(int(value) + 1)
    return format_value(round(value + 0.1, 2))


def wrong_answers(task: Task, database: ReadOnlyDatabase, pool: Sequence[Task]) -> list[str]:
    """Plausible wrong answers to ``task``, most plausible first, none grading as correct.

    A ranking's runner-up comes first, then a neighbouring number, then the answers of the
    other tasks of the same type in ``pool``.
    """
    golds = list(task.privileged.get("answers", []))
    candidates: list[str] = []
    if task.metadata.get("type") == "top":
        result = database.run(task.privileged["sql"], max_rows=2)
        candidates += [format_value(row[0]) for row in result.rows[1:]]
    neighbour = _neighbour(golds[0]) if golds else None
    candidates += [neighbour] if neighbour is not None else []
    candidates += [
        other.privileged["answers"][0]
        for other in pool
        if other.id != task.id and other.metadata.get("type") == task.metadata.get("type")
    ]
    unique = dict.fromkeys(c for c in candidates if c.strip() and not answer_matches(c, golds))
    return list(unique)


def wrong_answer(
    task: Task, actions: Sequence[str], env: SQLEnv, rng: random.Random
) -> Perturbation | None:
    """Replace the final answer with a plausible wrong one (one of the first three candidates).

    Returns:
        The perturbed list, or None when it does not end with an answer or has no candidate.
    """
    if not actions or parse_tool_call(actions[-1]).name != "answer":
        return None
    candidates = wrong_answers(task, env.database, env.tasks)[:3]
    if not candidates:
        return None
    replacement = f"answer({json.dumps(rng.choice(candidates), ensure_ascii=False)})"
    return Perturbation((*actions[:-1], replacement), len(actions) - 1, "wrong_answer")


def repeat(actions: Sequence[str], rng: random.Random) -> Perturbation | None:
    """Insert an identical copy of an earlier step somewhere before the final answer.

    Returns:
        The perturbed list, or None when there is nothing before the answer to repeat.
    """
    if len(actions) < 2:
        return None
    source = rng.randrange(len(actions) - 1)
    position = rng.randint(source + 1, len(actions) - 1)
    perturbed = [*actions[:position], actions[source], *actions[position:]]
    return Perturbation(tuple(perturbed), position, "repeat")


def perturb_sql(env: SQLEnv, task: Task, kind: str, rng: random.Random) -> Perturbation | None:
    """One perturbation of ``kind`` of the oracle's actions for ``task``.

    Args:
        env: The (unwrapped) env: its database checks candidate queries, its tasks supply
            wrong answers.
        task: The task to perturb.
        kind: One of :data:`SQL_KINDS`.
        rng: Source of every choice.

    Returns:
        The perturbation, or None where this task admits no such kind.

    Raises:
        ValueError: For a kind not in :data:`SQL_KINDS`.
    """
    actions = oracle_actions(task)
    if kind == "none":
        return Perturbation(tuple(actions), -1, "none")
    if kind == "wrong_query":
        return wrong_query(task, actions, env, rng)
    if kind == "wrong_answer":
        return wrong_answer(task, actions, env, rng)
    if kind == "repeat":
        return repeat(actions, rng)
    raise ValueError(f"unknown perturbation kind {kind!r}; use one of {SQL_KINDS}")


PERTURBATIONS = FamilyPerturbations(perturb_sql, SQL_KINDS)
"""The SQL family's ``perturbations`` piece (see :mod:`prmgym_sql.family`)."""


def plausible_wrong_action(
    task: Task, right_action: str, observations: Sequence[str], rng: random.Random
) -> str:
    """A wrong action that looks like the right one (the family's ``wrong_action`` piece).

    ``schema()`` becomes a look at a table the question does not need; a query becomes a
    near miss of itself, else another task's query; an answer becomes a plausible wrong
    answer. The result is never the right action.
    """
    call = parse_tool_call(right_action)
    if call.name == "schema":
        unneeded = [t for t in TABLES if t not in task.privileged.get("tables", [])]
        return f"describe({json.dumps(rng.choice(unneeded or list(TABLES)))})"
    argument = str(call.args[0]) if call.args else ""
    if call.name == "query":
        misses = near_misses(argument)
        others = [t.privileged["sql"] for t in shop_tasks() if t.privileged["sql"] != argument]
        return f"query({json.dumps(rng.choice(misses or others), ensure_ascii=False)})"
    golds = [argument]
    candidates = [_neighbour(argument)] + [
        t.privileged["answers"][0]
        for t in shop_tasks()
        if t.metadata.get("type") == task.metadata.get("type")
    ]
    wrong = sorted({c for c in candidates if c and not answer_matches(c, golds)})
    return f"answer({json.dumps(rng.choice(wrong), ensure_ascii=False)})"
