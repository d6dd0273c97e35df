"""The search family's random baseline: search, open and answer with random words.

It reads only what an agent sees (it ignores even that), so its score is a floor that any
agent reading the question should beat.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from prmgym.task import Task

_WORDS = (
    "list sort json dumps path join string split heapq merge default parameter module class "
    "function value error file time date random math regex pattern queue thread"
).split()


def random_action(task: Task, observations: Sequence[str], rng: random.Random) -> str:
    """A random call (the family's ``random_action`` piece): half searches, open or answer."""
    words = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
    tool = rng.choice(["search", "search", "open", "answer"])
    if tool == "open":
        words = words.replace(" ", ".")
    return f"{tool}({json.dumps(words)})"
