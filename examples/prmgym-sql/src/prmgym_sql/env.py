"""SQLEnv: answer a question about a shop by querying its real SQLite database.

Tools (action strings)::

    schema()               every table with its columns and row count
    describe("table")      one table's columns and its first rows
    query("SELECT ...")    run one read-only SQL statement; the first rows come back
    answer("text")         ends the episode; reward 1 for a correct answer, else 0

A query that fails (a syntax error, a missing column, a write the database refuses, a query
that runs too long) is an ordinary observation carrying SQLite's message, recorded in
``info["sql_error"]``: the call itself was well formed. A malformed call (unknown tool,
wrong arguments, no SQL) is a bad action: ``info["action_error"]`` says why.

Each env holds a private read-only copy of the database (:mod:`prmgym_sql.database`), so
nothing an episode does changes the next; its state is only what the agent has done, which
makes ``snapshot``/``restore`` a copy of a few lists.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any

from prmgym.envs.actions import ActionError, ToolCall, bind_arguments
from prmgym.envs.base import TextEnv, ToolResult
from prmgym.task import Task

from prmgym_sql.database import TABLES, QueryLimits, QueryResult, ReadOnlyDatabase, format_value
from prmgym_sql.database import schema_text as _schema_text
from prmgym_sql.grading import answer_matches
from prmgym_sql.tasks import FAMILY, shop_tasks

TOOLS_HELP = (
    'Tools: schema() lists the tables; describe("table") shows one table\'s columns and first'
    ' rows; query("SELECT ...") runs one read-only SQL query; answer("text") gives your final'
    " answer. Write exactly one tool call per turn."
)


def _schema() -> None: ...
def _describe(table: str) -> None: ...
def _query(sql: str) -> None: ...
def _answer(text: str) -> None: ...


SIGNATURES: dict[str, inspect.Signature] = {
    "schema": inspect.signature(_schema),
    "describe": inspect.signature(_describe),
    "query": inspect.signature(_query),
    "answer": inspect.signature(_answer),
}
"""Each tool's parameters; also what ``prmgym.envs.fuzzing`` generates calls from."""

_EXAMPLES = {
    "describe": 'describe("orders")',
    "query": 'query("SELECT count(*) FROM orders")',
    "answer": 'answer("42")',
}


def bind_call(call: ToolCall) -> dict[str, Any]:
    """Bind a parsed call to its tool's parameters, or raise ActionError saying what is wrong."""
    arguments = bind_arguments(call, SIGNATURES)
    for name, value in arguments.items():
        if not isinstance(value, str) or not value.strip():
            raise ActionError(
                f"{call.name} needs its {name} as non-empty text, e.g. {_EXAMPLES[call.name]}"
            )
    return arguments


def format_result(result: QueryResult, max_cell_chars: int = 80) -> str:
    """A query's result as the agent sees it: a header, ``|``-separated rows and a count."""
    if result.error is not None:
        return f"SQL error: {result.error}. Use schema() to see the tables and their columns."
    if not result.columns:
        return "The statement returned no result."

    def cell(value: object) -> str:
        text = " ".join(format_value(value).split())
        return text if len(text) <= max_cell_chars else text[: max_cell_chars - 3] + "..."

    lines = [" | ".join(result.columns)]
    lines += [" | ".join(cell(value) for value in row) for row in result.rows]
    if result.more:
        lines.append(
            f"(the first {len(result.rows)} rows; there are more: aggregate, filter or"
            " add ORDER BY ... LIMIT to see what matters)"
        )
    else:
        lines.append(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})")
    return "\n".join(lines)


@dataclass
class SQLState:
    """What an episode has done so far; copied by ``snapshot``."""

    queries: list[str] = field(default_factory=list)
    described: list[str] = field(default_factory=list)
    answer: str | None = None


class SQLProbe:
    """Read-only view of a live SQL episode, for environment-aware PRMs.

    It runs queries on the env's database without recording them in the episode (the
    database is read-only, so running one changes nothing).
    """

    def __init__(self, env: SQLEnv):
        self._env = env

    @property
    def task(self) -> Task:
        """The current task, privileged data included."""
        return self._env.task

    @property
    def gold_answers(self) -> list[str]:
        """Accepted answers."""
        return list(self._env.task.privileged.get("answers", []))

    @property
    def gold_tables(self) -> list[str]:
        """The tables the gold SQL reads."""
        return list(self._env.task.privileged.get("tables", []))

    def run(self, sql: str) -> QueryResult:
        """Run a query as the agent's ``query`` would, without recording it."""
        return self._env.database.run(sql, self._env.max_rows)

    def grade(self, answer: str) -> bool:
        """Whether an answer is correct."""
        return answer_matches(answer, self.gold_answers)

    @property
    def state(self) -> SQLState:
        """A copy of the episode's state."""
        return copy.deepcopy(self._env.state)


class SQLEnv(TextEnv):
    """Question answering over a real SQLite database, through read-only SQL.

    Args:
        split: Which tasks: ``train``, ``test`` or ``all``.
        max_rows: ``query`` shows at most this many rows.
        limits: Per-query budgets (instructions, seconds, value length).
        **kwargs: Passed to :class:`~prmgym.envs.base.TextEnv`.
    """

    family = FAMILY
    tool_signatures = SIGNATURES

    def __init__(
        self,
        split: str = "test",
        max_rows: int = 20,
        limits: QueryLimits | None = None,
        **kwargs: Any,
    ):
        super().__init__(shop_tasks(split), **kwargs)
        self.max_rows = max_rows
        self.database = ReadOnlyDatabase(limits)
        self.state = SQLState()

    def task_prompt(self, task: Task) -> str:
        """The question and the tools."""
        return f"Question: {task.instruction}\n{TOOLS_HELP}"

    def tools(self) -> str:
        """Tool syntax, shown after a bad action."""
        return TOOLS_HELP

    def start_episode(self, task: Task) -> None:
        """Forget the previous episode."""
        self.state = SQLState()

    @property
    def probe(self) -> SQLProbe:
        """A read-only handle for environment-aware PRMs."""
        return SQLProbe(self)

    def snapshot(self) -> dict[str, Any]:
        """Copy the episode state (the database never changes, so this is all of it)."""
        return {"state": copy.deepcopy(self.state), "step": self._step_index, "done": self._done}

    def restore(self, token: dict[str, Any]) -> None:
        """Return to a snapshot taken in this episode."""
        self.state = copy.deepcopy(token["state"])
        self._step_index = token["step"]
        self._done = token["done"]

    def close(self) -> None:
        """Close the database connection."""
        self.database.close()
        super().close()

    def execute(self, call: ToolCall) -> ToolResult:
        """Run schema, describe, query or answer."""
        arguments = bind_call(call)
        if call.name == "schema":
            return ToolResult(_schema_text())
        if call.name == "describe":
            return self._describe(arguments["table"].strip())
        if call.name == "query":
            return self._query(arguments["sql"])
        return self._answer(arguments["text"])

    def _describe(self, table: str) -> ToolResult:
        if table not in TABLES:
            raise ActionError(f"there is no table {table!r}; the tables are {', '.join(TABLES)}")
        self.state.described.append(table)
        columns = next(
            line for line in _schema_text().splitlines() if line.startswith(f"- {table}(")
        )
        rows = format_result(self.database.run(f"SELECT * FROM {table} LIMIT 3", 3))
        return ToolResult(f"Table {columns[2:]}\nFirst rows:\n{rows}", info={"table": table})

    def _query(self, sql: str) -> ToolResult:
        result = self.database.run(sql, self.max_rows)
        self.state.queries.append(sql)
        info = {"rows": len(result.rows), "more": result.more, "sql_error": result.error}
        return ToolResult(format_result(result), info=info)

    def _answer(self, text: str) -> ToolResult:
        self.state.answer = text
        correct = answer_matches(text, self.task.privileged.get("answers", []))
        verdict = "correct" if correct else "incorrect"
        return ToolResult(
            f"Answer recorded: {text!r} ({verdict}).",
            reward=float(correct),
            terminated=True,
            info={"em": float(correct), "answer": text, "success": correct},
        )
