"""The data family's scripted oracle: run the task's reference code, then give its answers.

It reads the task's privileged data, so it is a test instrument (every task with reference
code must be solved by it) and a source of expert trajectories, never an agent to evaluate.
A task without reference code (InfiAgent-DABench publishes none) gets the answer alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.envs.data.tasks import DataTask
from prmgym.task import Task


def answer_text(answers: dict[str, str]) -> str:
    """The DABench reply holding ``answers``: ``@name[value] @name[value]``."""
    return " ".join(f"@{name}[{value}]" for name, value in answers.items())


def shown(code: str) -> str:
    """``code`` (reference code, which sets ``answer``) ending by showing ``answer``.

    The answer step then gives values an output showed, as the data rubric's
    ``answer-from-outputs`` rule asks of every agent; a silent cell would make the oracle
    answer from privileged knowledge of what it computed.
    """
    return f"{code.rstrip()}\nanswer\n"


def oracle_actions(task: Task) -> list[str]:
    """The action strings that solve ``task``: its reference code in the kernel, then answer."""
    data_task = DataTask.from_task(task)
    actions = [f"python({shown(data_task.reference_code)!r})"] if data_task.has_reference else []
    return [*actions, f"answer({answer_text(data_task.answers)!r})"]


def next_action(task: Task, observations: Sequence[str], actions: Sequence[str]) -> str:
    """The oracle's next action (the family's ``oracle`` piece): the plan's next step.

    The plan is fixed, so observations are not read; once it is spent its last action repeats.
    """
    plan = oracle_actions(task)
    return plan[min(len(actions), len(plan) - 1)]
