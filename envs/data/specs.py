"""Question specs: the pieces a built-in data task is assembled from.

A :class:`Spec` holds a question, its constraints, the code that computes its values and the
:class:`Part` each value is reported as. :func:`assemble` turns it into a
:class:`~prmgym.envs.data.tasks.DataTask` whose format line, rounding sentence, reference code
and tolerances all follow from the parts, so they cannot disagree with each other.

Tolerances: a number rounded to ``d`` decimals may be off by one unit in its last place
(``10**-d``), so rounding conventions (half-even or half-up, ``round`` or ``numpy.round``) never
decide a grade; integers and texts must match exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from prmgym.envs.data.tasks import DataTask, Level

Kind = Literal["number", "integer", "text"]

# Standard wording, so every question states methods and tie rules the same way.
SKIP_MISSING = "Skip missing values (pandas' default)."
TIE_ALPHA = "If several tie, give the one that comes first alphabetically."
EARLIEST = "If several tie, give the earliest."
PEARSON = "Use the Pearson correlation coefficient over rows where both values are present."
SPEARMAN = (
    "Use Spearman's rho, the Pearson correlation of the ranks (tied values get their average"
    " rank), over rows where both values are present."
)
F_TO_C = "(temp - 32) * 5 / 9"
"""Fahrenheit to Celsius, as questions state it and reference code computes it."""
PARSE_DATE = "date = pd.to_datetime(df['date'])\n"
"""Setup code reading a table's ISO ``date`` column as timestamps."""


@dataclass(frozen=True)
class Part:
    """One ``@name[value]`` part of an answer."""

    name: str
    expr: str
    """A Python expression over the reference code's variables giving the raw value."""
    kind: Kind
    what: str
    """What the value is, completing "where value is ..." in the format line."""
    decimals: int = 2
    """For numbers: how many decimal places the answer is rounded to."""

    def code(self) -> str:
        """The expression that formats the value as answer text."""
        if self.kind == "number":
            return f'f"{{{self.expr}:.{self.decimals}f}}"'
        if self.kind == "integer":
            return f"str(int({self.expr}))"
        return f"str({self.expr})"

    def format_line(self) -> str:
        """How the format section describes this part."""
        suffix = {
            "number": f", a number rounded to {self.decimals} decimal places",
            "integer": ", an integer",
            "text": "",
        }[self.kind]
        return f"@{self.name}[value] where value is {self.what}{suffix}"

    def tolerance(self) -> float:
        """One unit in the last decimal place for numbers; exact for integers and texts."""
        return 10.0**-self.decimals if self.kind == "number" else 0.0


def num(name: str, expr: str, what: str, decimals: int = 2) -> Part:
    """A number part rounded to ``decimals`` places."""
    return Part(name, expr, "number", what, decimals)


def integer(name: str, expr: str, what: str) -> Part:
    """An integer part (counts, years, hours)."""
    return Part(name, expr, "integer", what)


def text(name: str, expr: str, what: str) -> Part:
    """A text part (a category, a name, a date)."""
    return Part(name, expr, "text", what)


@dataclass(frozen=True)
class Spec:
    """A built-in question before its answers are computed."""

    slug: str
    """Unique within its first table (see :attr:`task_id`)."""
    reads: tuple[tuple[str, str], ...]
    """``(variable, table)`` pairs: which tables the code reads, into which variables."""
    question: str
    constraints: str
    setup: str
    """Code run after the tables are read, defining what the parts' expressions use."""
    parts: tuple[Part, ...]
    level: Level
    concepts: tuple[str, ...]

    @property
    def table(self) -> str:
        """The first table read: the one the task is filed under."""
        return self.reads[0][1]

    @property
    def task_id(self) -> str:
        """``<table>/<slug>``, lower case."""
        return f"{self.table}/{self.slug}".lower()


def spec(
    slug: str,
    table: str | Sequence[tuple[str, str]],
    question: str,
    constraints: str,
    setup: str,
    parts: Sequence[Part],
    level: Level,
    concepts: Sequence[str],
) -> Spec:
    """A :class:`Spec`; a single table name is read into ``df``."""
    reads = (("df", table),) if isinstance(table, str) else tuple(table)
    return Spec(slug, reads, question, constraints, setup, tuple(parts), level, tuple(concepts))


def _rounding(parts: Sequence[Part]) -> str:
    by_places: dict[int, list[str]] = {}
    for part in parts:
        if part.kind == "number":
            by_places.setdefault(part.decimals, []).append(part.name)
    if not by_places:
        return ""
    if len(by_places) == 1 and len(parts) == 1:
        return f"Round the result to {next(iter(by_places))} decimal places."
    clauses = [
        f"{', '.join(names)} to {places} decimal places" for places, names in by_places.items()
    ]
    return f"Round {'; '.join(clauses)}."


def reference_code(item: Spec) -> str:
    """The task's reference code: imports, table reads, setup, then ``answer = {...}``."""
    lines = ["import numpy as np", "import pandas as pd", ""]
    lines += [f'{var} = pd.read_csv("{table}.csv")' for var, table in item.reads]
    lines += [item.setup.strip(), "answer = {"]
    lines += [f'    "{part.name}": {part.code()},' for part in item.parts]
    lines.append("}")
    return "\n".join(lines) + "\n"


def assemble(item: Spec, answers: dict[str, str], split: str) -> DataTask:
    """The data task a spec describes, with answers computed from its reference code."""
    tables = list(dict.fromkeys(table for _, table in item.reads))
    # Texts match exactly whatever the tolerance, so only numbers and integers get one.
    tolerances = {part.name: part.tolerance() for part in item.parts if part.kind != "text"}
    shared = set(tolerances.values())
    tolerance: float | dict[str, float] = shared.pop() if len(shared) == 1 else tolerances
    return DataTask(
        id=item.task_id,
        question=item.question,
        constraints=" ".join(filter(None, [item.constraints, _rounding(item.parts)])),
        format="; ".join(part.format_line() for part in item.parts) + ".",
        tables=tables,
        reference_code=reference_code(item),
        answers=answers,
        tolerance=tolerance or 0.0,
        level=item.level,
        concepts=list(item.concepts),
        split=split,
    )
