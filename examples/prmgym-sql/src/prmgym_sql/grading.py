"""Answer grading: exact match after normalisation, with numbers compared as numbers.

SQuAD's normaliser drops punctuation, which would turn ``12.5`` into ``125``; answers here are
values read off a database, so a number is parsed (``$1,234.50``, ``1234.5`` and ``1234.50``
are one number, rounded to two decimals) and text is compared case- and space-insensitively
without surrounding quotes or a final full stop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"^[-+]?\$?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def _number(text: str) -> str | None:
    """The canonical form of a number written in ``text``, or None if it is not one."""
    if not text or not _NUMBER.match(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        value = Decimal(text.replace("$", "").replace(",", ""))
    except InvalidOperation:
        return None
    rounded = value.quantize(Decimal("0.01")).normalize()
    return "0" if rounded.is_zero() else format(rounded, "f")


def normalize_answer(text: str) -> str:
    """The form answers are compared in.

    Example:
        >>> normalize_answer(" '$1,234.50'. ")
        '1234.5'
        >>> normalize_answer("Go  Board")
        'go board'
    """
    stripped = text.strip().rstrip(".").strip().strip("\"'`").strip()
    number = _number(stripped)
    if number is not None:
        return number
    return " ".join(stripped.lower().split())


def answer_matches(prediction: str, golds: Sequence[str]) -> bool:
    """Whether the prediction equals any gold answer after normalisation."""
    predicted = normalize_answer(prediction)
    return bool(predicted) and any(predicted == normalize_answer(gold) for gold in golds)


def cells_contain(cells: Iterable[str], golds: Sequence[str]) -> bool:
    """Whether any cell (as the agent saw it) equals a gold answer after normalisation."""
    wanted = {normalize_answer(gold) for gold in golds} - {""}
    return any(normalize_answer(cell) in wanted for cell in cells)
