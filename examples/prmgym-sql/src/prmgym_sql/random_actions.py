"""The SQL family's random baseline: random calls of its four tools.

It reads only what an agent sees, and not even that: its queries pick a random table and
column shape, and its answers are numbers or words drawn at random, so its score is a floor
that any agent reading the question should beat.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from prmgym.task import Task

from prmgym_sql.database import TABLES

_SELECTS = ("*", "count(*)", "max(rowid)", "min(rowid)")
_WORDS = ("Japan", "books", "Dune", "shipped", "Lyon", "Teapot", "pending", "Ada Baker")


def random_action(task: Task, observations: Sequence[str], rng: random.Random) -> str:
    """A random call (the family's ``random_action`` piece), queries most often."""
    tool = rng.choice(("schema", "describe", "query", "query", "answer"))
    if tool == "schema":
        return "schema()"
    if tool == "describe":
        return f"describe({json.dumps(rng.choice(TABLES))})"
    if tool == "query":
        sql = f"SELECT {rng.choice(_SELECTS)} FROM {rng.choice(TABLES)} LIMIT {rng.randint(1, 5)}"
        return f"query({json.dumps(sql)})"
    guess = str(rng.randint(0, 100)) if rng.random() < 0.5 else rng.choice(_WORDS)
    return f"answer({json.dumps(guess)})"
