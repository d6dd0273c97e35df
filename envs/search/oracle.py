"""The search family's scripted oracle: look up each evidence document, then answer.

It reads the task's privileged data, so it is a test instrument (every task must be solvable
by it) and a source of expert trajectories, never an agent to evaluate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from prmgym.task import Task


def oracle_actions(task: Task) -> list[str]:
    """The action strings that solve ``task``: search and open each evidence doc, then answer."""
    actions: list[str] = []
    for doc_id in task.privileged.get("evidence", []):
        actions.append(f"search({json.dumps(doc_id.replace('.', ' '))})")
        actions.append(f"open({json.dumps(doc_id)})")
    answers = task.privileged.get("answers") or [""]
    actions.append(f"answer({json.dumps(answers[0])})")
    return actions


def next_action(task: Task, observations: Sequence[str], actions: Sequence[str]) -> str:
    """The oracle's next action (the family's ``oracle`` piece): the plan's next step.

    The plan is fixed, so observations are not read; once it is spent its last action repeats.
    """
    plan = oracle_actions(task)
    return plan[min(len(actions), len(plan) - 1)]
