"""Checks of values typed into the sites' forms, shared by their state modules."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def whole_number(text: str, low: int, high: int) -> int | None:
    """The whole number ``text`` spells if it lies in [low, high]; otherwise None."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: str) -> int | None:
    """The record id a URL part spells (``"12"`` -> 12), or None when it spells none."""
    return whole_number(text, 1, 2**31)


def is_email(text: str) -> bool:
    """Whether ``text`` looks like an email address (one ``@``, a dotted domain)."""
    return _EMAIL.fullmatch(text) is not None
