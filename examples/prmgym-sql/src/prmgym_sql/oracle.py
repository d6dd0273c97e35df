"""The SQL family's scripted oracle: read the schema, run the gold SQL, answer.

It reads the task's privileged data, so it is a test instrument (every task must be solvable
by it) and a source of expert trajectories, never an agent to evaluate. It reads what it has
done rather than counting steps, so after a wrong action (the noisy oracle's) it still runs
the gold query before answering.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from prmgym.task import Task


def oracle_actions(task: Task) -> list[str]:
    """The action strings that solve ``task``: ``schema()``, the gold query, the answer."""
    return [
        "schema()",
        f"query({json.dumps(task.privileged['sql'], ensure_ascii=False)})",
        f"answer({json.dumps(task.privileged['answers'][0], ensure_ascii=False)})",
    ]


def next_action(task: Task, observations: Sequence[str], actions: Sequence[str]) -> str:
    """The oracle's next action (the family's ``oracle`` piece): the first plan step not done."""
    schema, query, answer = oracle_actions(task)
    if schema not in actions:
        return schema
    if query not in actions:
        return query
    return answer
