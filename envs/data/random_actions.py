"""The data family's random baseline: random pandas snippets and guessed answers.

It reads only what an agent sees: the table files and answer names the instruction lists,
so its calls are well formed and its answers have the requested shape, with random content.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from prmgym.task import Task

_FILE = re.compile(r"[\w.-]+\.csv\b")
_ANSWER_NAME = re.compile(r"@(\w+)\[")
_SNIPPETS = (
    "df.head()",
    "df.describe()",
    "df.columns.tolist()",
    "len(df)",
    "df.dtypes",
    "df.isna().sum()",
    "df.iloc[0]",
    "df.nunique()",
)


def random_action(task: Task, observations: Sequence[str], rng: random.Random) -> str:
    """A random call (the family's ``random_action`` piece): mostly code, sometimes a guess."""
    if rng.random() < 0.25:
        names = _ANSWER_NAME.findall(task.instruction) or ["answer"]
        guess = " ".join(f"@{name}[{rng.randint(0, 100)}]" for name in dict.fromkeys(names))
        return f"answer({guess!r})"
    files = _FILE.findall(task.instruction) or ["table.csv"]
    code = f"import pandas as pd\ndf = pd.read_csv({rng.choice(files)!r})\n{rng.choice(_SNIPPETS)}"
    return f"python({code!r})"
