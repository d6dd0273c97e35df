"""The web family's scripted oracle: its plan's steps, each resolved on the live page.

A plan (:mod:`prmgym.envs.web.plans`) names elements by role and accessible name; the oracle
finds that pair in the observation's accessibility tree and writes the BrowserGym action
with the element's id. It reads the task's privileged plan, so it is a test instrument and a
source of expert trajectories, never an agent to evaluate.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence

from prmgym.envs.web.plans import OracleStep
from prmgym.envs.web.tasks import WebTask
from prmgym.errors import ConfigError, TaskError
from prmgym.task import Task

_LINE = re.compile(
    r"^\s*\[(?P<bid>[A-Za-z0-9_-]+)\] (?P<role>\S+)"
    r"(?: (?P<name>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?"
)


def elements(tree: str) -> list[tuple[str, str, str]]:
    """``(bid, role, name)`` of every element with an id in an accessibility tree's text."""
    found = []
    for line in tree.splitlines():
        match = _LINE.match(line)
        if match:
            name = ast.literal_eval(match["name"]) if match["name"] else ""
            found.append((match["bid"], match["role"], name))
    return found


def resolve(step: OracleStep, observation: str) -> str:
    """The BrowserGym action that carries out ``step`` on the page ``observation`` shows.

    Raises:
        TaskError: No element (or more than one) on the page has the step's role and name.
    """
    if step.action == "goto":
        return f"goto({json.dumps(step.path)})"
    if step.action == "send_msg_to_user":
        return f"send_msg_to_user({json.dumps(step.value)})"
    bids = [
        bid for bid, role, name in elements(observation) if (role, name) == (step.role, step.name)
    ]
    if len(bids) != 1:
        found = "no element" if not bids else f"{len(bids)} elements"
        raise TaskError(f"the oracle found {found} {step.role} {step.name!r} on the page")
    arguments = [json.dumps(bids[0])]
    if step.value is not None:
        arguments.append(json.dumps(step.value))
    return f"{step.action}({', '.join(arguments)})"


def oracle_action(task: Task, observation: str, step: int) -> str:
    """The oracle's action number ``step`` of ``task``, on the page ``observation`` shows.

    Raises:
        ConfigError: The task has no plan (a generic task).
    """
    if task.privileged.get("generic"):
        raise ConfigError(f"web task {task.id!r} is a generic task: it has no oracle plan")
    plan = WebTask.from_task(task).oracle
    return resolve(plan[min(step, len(plan) - 1)], observation)


def next_action(task: Task, observations: Sequence[str], actions: Sequence[str]) -> str:
    """The oracle's next action (the web family's ``oracle`` piece), on the latest page.

    ``noop()`` when that page lacks the plan's element: continuing someone else's episode
    past a wrong click (as Monte Carlo labelling does), the oracle waits and the episode
    fails at its step limit instead of crashing the run.
    """
    try:
        return oracle_action(task, observations[-1] if observations else "", len(actions))
    except TaskError:
        return "noop()"
