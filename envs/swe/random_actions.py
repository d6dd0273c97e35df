"""The SWE family's random baseline: shell commands, file views and edits chosen at random.

It reads only what an agent sees: paths named in the issue and in earlier observations give
its views and edits real targets; the edits themselves are random, so it rarely resolves a
task.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence

from prmgym.task import Task

_PATH = re.compile(r"(?<![\w/.])(?:[\w-]+/)*[\w-]+\.py\b")
_COMMANDS = (
    "ls",
    "git status",
    "git diff",
    "python -m pytest -q -x -p no:cacheprovider",
    "grep -rn 'def ' --include=*.py .",
)
_WORDS = "return value self None True False result item index count name data".split()


def random_action(task: Task, observations: Sequence[str], rng: random.Random) -> str:
    """A random call (the family's ``random_action`` piece) of one of the six SWE tools."""
    seen = _PATH.findall("\n".join([task.instruction, *observations]))
    path = rng.choice(seen) if seen else "."
    tool = rng.choice(["bash", "bash", "view", "view", "str_replace", "insert", "create", "submit"])
    if tool == "bash":
        return f"bash({json.dumps(rng.choice([*_COMMANDS, f'cat {path}']))})"
    if tool == "view":
        return f"view({json.dumps(path)})"
    old, new = rng.sample(_WORDS, 2)
    if tool == "str_replace":
        return f"str_replace({json.dumps(path)}, {json.dumps(old)}, {json.dumps(new)})"
    if tool == "insert":
        return f"insert({json.dumps(path)}, {rng.randint(0, 20)}, {json.dumps(new)})"
    if tool == "create":
        return f"create({json.dumps(f'notes_{rng.randint(0, 9)}.txt')}, {json.dumps(new)})"
    return "submit()"
