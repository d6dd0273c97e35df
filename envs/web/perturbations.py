"""Web-family perturbations: oracle action lists made wrong at a known step.

A web oracle's plan names elements by role and name; the element ids in its actions exist only
on the live page. So every function here first plays the oracle in the env it is given
(:func:`oracle_trace`), reading the concrete BrowserGym actions (ids are the same on every
load of a page), and then breaks that list in one place, so the first wrong step is known by
construction (as ProcessBench labels solutions, arXiv 2412.06559). Kinds:

- ``none``: the oracle's concrete actions unchanged (first error -1);
- ``wrong_click``: before an oracle step, a click on another link of the same page, one the
  oracle does not follow there, then ``go_back()`` and the rest of the oracle: a detour;
- ``wrong_answer``: an answer task's reply replaced by another plausible one that fails its
  ``answer_matches`` check;
- ``repeat``: right after a click that loaded a new page, ``goto`` that same page again: a
  reload that changes nothing, a wasted step.

The list-changing kinds are played through the env before they are returned and kept only
when they do what they claim: the wrong click lands on another page than the oracle's with no
subgoal reached, a repeat leaves the page as it was, and ``go_back()`` or the reload bring back
the exact page the oracle acts on next, so the rest of the list still solves the task. Every
choice is drawn from the ``random.Random`` passed in, so a seed fixes the set.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.envs.web.env import WebEnv
from prmgym.envs.web.oracle import elements, oracle_action
from prmgym.envs.web.predicates import AnswerMatches, same_answer
from prmgym.envs.web.tasks import WebTask
from prmgym.task import Task

WEB_KINDS: tuple[str, ...] = ("none", "wrong_click", "wrong_answer", "repeat")
"""Perturbation kinds of the web family; ``none`` is the unperturbed oracle."""

_TRIES = 3
"""Candidate lists played, at most, before a kind gives up on a task."""


@dataclass(frozen=True)
class PlayedStep:
    """One action played in a web episode, with what held just before and just after it."""

    page: str
    """The page (URL, title, accessibility tree) the action was taken on."""
    action: str
    url: str
    """The page's URL after the action."""
    checklist_before: tuple[bool, ...]
    checklist: tuple[bool, ...]
    """Which subgoals held after the action."""
    error: str | None
    """Why the env rejected the action; None when it was carried out."""
    success: bool
    terminated: bool


def _step(env: WebEnv, action: str) -> PlayedStep:
    page, before = env.page_text(), tuple(env.checklist())
    _, _, terminated, _, info = env.step(action)
    return PlayedStep(
        page=page,
        action=action,
        url=env.url,
        checklist_before=before,
        checklist=tuple(info.get("checklist", ())),
        error=info.get("action_error"),
        success=bool(info.get("success")),
        terminated=terminated,
    )


def play(env: WebEnv, task: Task, actions: Sequence[str]) -> list[PlayedStep]:
    """Play ``actions`` from a fresh episode of ``task``, up to the step that ends it."""
    env.reset(options={"task_id": task.id})
    played: list[PlayedStep] = []
    for action in actions:
        played.append(_step(env, action))
        if played[-1].terminated:
            break
    return played


def oracle_trace(env: WebEnv, task: Task) -> list[PlayedStep]:
    """Play the oracle's plan in a fresh episode, resolving each step on the live page."""
    env.reset(options={"task_id": task.id})
    played: list[PlayedStep] = []
    for index in range(len(WebTask.from_task(task).oracle)):
        played.append(_step(env, oracle_action(env.task, env.page_text(), index)))
    return played


def _url_of(page: str) -> str:
    return page.split("\n", 1)[0].removeprefix("URL: ")


def _path(url: str) -> str:
    # A relative address: a replay in another env serves the sites on another port.
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _clean(played: Sequence[PlayedStep], actions: Sequence[str]) -> bool:
    """Every action was carried out and the last one solved the task."""
    return (
        len(played) == len(actions)
        and all(step.error is None for step in played)
        and played[-1].success
    )


def _target(action: str) -> str | None:
    call = parse_tool_call(action)
    return str(call.args[0]) if call.name == "click" and call.args else None


def unperturbed(trace: Sequence[PlayedStep]) -> Perturbation:
    """The oracle's concrete actions as they are: every step right."""
    return Perturbation(tuple(step.action for step in trace), -1, "none")


def wrong_click(
    env: WebEnv, task: Task, trace: Sequence[PlayedStep], rng: random.Random
) -> Perturbation | None:
    """Before an oracle step, click another link of that page, then go back and carry on.

    Args:
        env: The unwrapped web env the candidates are played in (it is reset).
        task: The task the trace solves.
        trace: The oracle's played steps (:func:`oracle_trace`).
        rng: Source of the step and the link.

    Returns:
        The perturbed list (first error: the wrong click), or None when no candidate
        played as claimed within a few tries.
    """
    oracle = [step.action for step in trace]
    positions = list(range(len(trace)))
    rng.shuffle(positions)
    tries = 0
    for position in positions:
        step = trace[position]
        links = sorted(
            bid
            for bid, role, _ in elements(step.page)
            if role == "link" and bid != _target(step.action)
        )
        if not links:
            continue
        wrong = f"click({json.dumps(rng.choice(links))})"
        actions = [*oracle[:position], wrong, "go_back()", *oracle[position:]]
        played = play(env, task, actions)
        if _clean(played, actions) and _detour(played[position], played[position + 2], step):
            return Perturbation(tuple(actions), position, "wrong_click")
        tries += 1
        if tries == _TRIES:
            break
    return None


def _detour(clicked: PlayedStep, resumed: PlayedStep, oracle_step: PlayedStep) -> bool:
    """The wrong click led elsewhere than the oracle, reached nothing, and was undone."""
    before = _url_of(clicked.page)
    return (
        clicked.url not in (before, oracle_step.url)
        and clicked.checklist == clicked.checklist_before
        and resumed.page == oracle_step.page
    )


def repeat(
    env: WebEnv, task: Task, trace: Sequence[PlayedStep], rng: random.Random
) -> Perturbation | None:
    """Right after a click that loaded a new page, load that page again with ``goto``.

    Args:
        env: The unwrapped web env the candidates are played in (it is reset).
        task: The task the trace solves.
        trace: The oracle's played steps (:func:`oracle_trace`).
        rng: Source of the click to repeat.

    Returns:
        The perturbed list (first error: the reload), or None when no click before the last
        step loaded a page the reload leaves unchanged, within a few tries.
    """
    oracle = [step.action for step in trace]
    navigations = [
        i
        for i, step in enumerate(trace[:-1])
        if _target(step.action) is not None and step.url != _url_of(step.page)
    ]
    rng.shuffle(navigations)
    for source in navigations[:_TRIES]:
        reload = f"goto({json.dumps(_path(trace[source].url))})"
        actions = [*oracle[: source + 1], reload, *oracle[source + 1 :]]
        played = play(env, task, actions)
        if _clean(played, actions) and played[source + 2].page == played[source + 1].page:
            return Perturbation(tuple(actions), source + 1, "repeat")
    return None


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        return None


def answer_pool(tasks: Sequence[Task], task: Task) -> list[str]:
    """Other answer tasks' answers: numbers for a numeric answer, texts for a text one."""
    answer = task.privileged.get("answer")
    if answer is None:
        return []
    numeric = _number(answer) is not None
    return [
        other.privileged["answer"]
        for other in tasks
        if other.id != task.id
        and other.privileged.get("answer") is not None
        and (_number(other.privileged["answer"]) is not None) == numeric
    ]


def wrong_answer(
    task: Task, trace: Sequence[PlayedStep], pool: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Replace an answer task's reply with another task's answer that fails its checks.

    Args:
        task: The task; its ``answer_matches`` checks decide what is wrong.
        trace: The oracle's played steps, ending with its reply.
        pool: Plausible replies (see :func:`answer_pool`); a numeric answer off by one is
            used when none is wrong.
        rng: Source of the choice.

    Returns:
        The perturbed list, or None for a task that is not an answer task.
    """
    web_task = WebTask.from_task(task)
    checks = [p for p in web_task.success if isinstance(p, AnswerMatches)]
    if web_task.answer is None or not checks:
        return None

    def wrong(reply: str) -> bool:
        return not all(same_answer(reply, p.value, p.tolerance) for p in checks)

    candidates = sorted({reply for reply in pool if wrong(reply)})
    number = _number(web_task.answer)
    if not candidates and number is not None:
        candidates = [reply for reply in (str(number + 1),) if wrong(reply)]
    if not candidates:
        return None
    actions = [step.action for step in trace]
    reply = f"send_msg_to_user({json.dumps(rng.choice(candidates))})"
    return Perturbation((*actions[:-1], reply), len(actions) - 1, "wrong_answer")


def perturb_web(env: WebEnv, task: Task, kind: str, rng: random.Random) -> Perturbation | None:
    """One perturbation of ``kind`` of the oracle's actions for ``task`` in a web env.

    Args:
        env: The unwrapped env: the oracle and candidates are played in it (it is reset), and
            its tasks supply plausible wrong answers.
        task: The task to perturb (one with an oracle plan).
        kind: One of :data:`WEB_KINDS`.
        rng: Source of every choice.

    Returns:
        The perturbation, or None where this task admits no such kind.

    Raises:
        ValueError: For a kind not in :data:`WEB_KINDS`.
    """
    if kind not in WEB_KINDS:
        raise ValueError(f"unknown perturbation kind {kind!r}; use one of {WEB_KINDS}")
    if kind == "wrong_answer" and task.privileged.get("answer") is None:
        return None  # decided before playing the oracle: a state task has no reply to change
    trace = oracle_trace(env, task)
    if kind == "none":
        return unperturbed(trace)
    if kind == "wrong_click":
        return wrong_click(env, task, trace, rng)
    if kind == "wrong_answer":
        return wrong_answer(task, trace, answer_pool(env.tasks, task), rng)
    return repeat(env, task, trace, rng)


PERTURBATIONS = FamilyPerturbations(perturb_web, WEB_KINDS)
"""The web family's ``perturbations`` piece (see ``prmgym.envs.web.family``)."""
