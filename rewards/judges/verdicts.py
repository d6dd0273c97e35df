"""Reading verdicts out of a generative judge's reply.

Judges are asked for a JSON object (``{"1": "yes", "2": "no"}``); small models stray, so
tagged verdicts (``<verdict id="2">no</verdict>``, or ``<verdict>yes</verdict>`` for a single
question) and, for one question, a reply that starts with yes or no are accepted too.
"""

from __future__ import annotations

import json
import re
from typing import Any

_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_TAG = re.compile(r"<verdict(?:\s+id=[\"']?(\d+)[\"']?)?\s*>\s*([^<]*?)\s*</verdict>", re.I)
_LEADING_WORD = re.compile(r"^\W*(yes|no|true|false)\b", re.I)
_WORDS = {"yes": 1.0, "true": 1.0, "y": 1.0, "no": 0.0, "false": 0.0, "n": 0.0}


def verdict_value(raw: Any) -> float | None:
    """A verdict as a probability: yes/true -> 1, no/false -> 0, a number in [0, 1] as is."""
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float):
        return float(raw) if 0.0 <= raw <= 1.0 else None
    if isinstance(raw, str):
        word = raw.strip().strip(".!\"'").lower()
        if word in _WORDS:
            return _WORDS[word]
        try:
            return verdict_value(float(word))
        except ValueError:
            return None
    return None


def parse_verdicts(text: str, count: int) -> list[float | None]:
    """Verdicts for questions ``1..count`` found in ``text``; None where none was readable."""
    found: list[float | None] = [None] * count
    for match in _JSON_OBJECT.finditer(text):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        for key, raw in obj.items():
            index = int(key) - 1 if str(key).strip().isdigit() else -1
            if 0 <= index < count and found[index] is None:
                found[index] = verdict_value(raw)
    for number, raw in _TAG.findall(text):
        index = int(number) - 1 if number else (0 if count == 1 else -1)
        if 0 <= index < count and found[index] is None:
            found[index] = verdict_value(raw)
    if count == 1 and found[0] is None:
        match = _LEADING_WORD.match(text)
        if match:
            found[0] = verdict_value(match.group(1))
    return found
