"""Search-family perturbations: oracle action lists made wrong at a known step.

ProcessBench (arXiv 2412.06559) labels each solution with the index of its earliest wrong step.
These functions make such labels for agent trajectories: start from the oracle's action list
(right at every step) and break it in one place, so the first wrong step is known by
construction. Kinds:

- ``none``: the oracle list unchanged (first error -1);
- ``wrong_args``: a search or open of the oracle replaced by a search for an unrelated document
  or the opening of an existing but wrong document;
- ``wrong_answer``: the final answer replaced by a plausible wrong one (another task's answer of
  the same type, else a mutated gold answer), checked not to grade as correct;
- ``repeat``: an identical copy of an earlier search or open inserted before the answer.

Every choice is drawn from the ``random.Random`` passed in, so a seed fixes the whole set.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence

from prmgym.envs.actions import parse_tool_call
from prmgym.envs.perturbation import FamilyPerturbations, Perturbation
from prmgym.envs.search.corpus import STDLIB_MODULES
from prmgym.envs.search.documents import Document
from prmgym.envs.search.env import SearchQAEnv
from prmgym.envs.search.grading import exact_match, normalize_answer
from prmgym.envs.search.index import SearchIndex
from prmgym.envs.search.oracle import oracle_actions
from prmgym.task import Task

SEARCH_KINDS: tuple[str, ...] = ("none", "wrong_args", "wrong_answer", "repeat")
"""Perturbation kinds of the search family; ``none`` is the unperturbed oracle."""

_DISTRACTOR_TRIES = 50


def _tools(actions: Sequence[str]) -> list[str]:
    return [parse_tool_call(action).name for action in actions]


def _module(doc_id: str) -> str:
    return doc_id.split(".", 1)[0]


def _mentions(text: str, answers: Sequence[str]) -> bool:
    """Whether a text holds any answer as a whole phrase (after SQuAD normalisation)."""
    padded = f" {normalize_answer(text)} "
    return any(f" {normalize_answer(a)} " in padded for a in answers if normalize_answer(a))


def _distractor(
    task: Task, index: SearchIndex, rng: random.Random, top_k: int, for_search: bool
) -> Document | None:
    """A document from a module no evidence comes from, that does not mention the answer.

    For a search, its navigational query must also retrieve no evidence, so the step is
    useless however the results are read.
    """
    evidence = list(task.privileged.get("evidence", []))
    modules = {_module(doc_id) for doc_id in evidence}
    answers = list(task.privileged.get("answers", []))
    for _ in range(_DISTRACTOR_TRIES):
        doc = index.documents[rng.randrange(len(index.documents))]
        if _module(doc.id) in modules or _mentions(doc.text, answers):
            continue
        if for_search:
            hits = {hit.document.id for hit in index.search(_query(doc.id), top_k)}
            if hits.intersection(evidence):
                continue
        return doc
    return None


def _query(doc_id: str) -> str:
    # The oracle's own query form, so a wrong search differs from a right one only in target.
    return doc_id.replace(".", " ")


def unperturbed(actions: Sequence[str]) -> Perturbation:
    """The oracle list as it is: every step right."""
    return Perturbation(tuple(actions), -1, "none")


def wrong_args(
    task: Task,
    actions: Sequence[str],
    index: SearchIndex,
    rng: random.Random,
    top_k: int = 5,
) -> Perturbation | None:
    """Replace one search or open with one aimed at an unrelated document.

    Args:
        task: The task the actions solve (its evidence and answers say what is unrelated).
        actions: The oracle's action list.
        index: The env's search index, to draw existing documents and check searches.
        rng: Source of every choice.
        top_k: The ``k`` the env gives searches that do not name one.

    Returns:
        The perturbed list, or None when the list has no search or open or no distractor
        was found.
    """
    tools = _tools(actions)
    positions = [i for i, tool in enumerate(tools) if tool in ("search", "open")]
    if not positions:
        return None
    position = rng.choice(positions)
    is_search = tools[position] == "search"
    doc = _distractor(task, index, rng, top_k, for_search=is_search)
    if doc is None:
        return None
    replacement = (
        f"search({json.dumps(_query(doc.id))})" if is_search else f"open({json.dumps(doc.id)})"
    )
    perturbed = [*actions[:position], replacement, *actions[position + 1 :]]
    return Perturbation(tuple(perturbed), position, "wrong_args")


def _mutated(gold: str) -> str:
    """A near miss of the gold answer: the next integer, or a plural-looking variant."""
    try:
        return str(int(gold) + 1)
    except ValueError:
        return f"{gold}s"


def wrong_answer(
    task: Task, actions: Sequence[str], answer_pool: Sequence[str], rng: random.Random
) -> Perturbation | None:
    """Replace the final answer with a wrong one that looks like a right one.

    Args:
        task: The task; its gold answers rule candidates out.
        actions: The oracle's action list, ending with ``answer(...)``.
        answer_pool: Plausible answers, e.g. other tasks' answers of the same question type.
        rng: Source of the choice.

    Returns:
        The perturbed list, or None when the list does not end with an answer or no candidate
        grades as wrong.
    """
    if not actions or _tools(actions[-1:]) != ["answer"]:
        return None
    golds = list(task.privileged.get("answers", []))
    candidates = sorted(
        {a for a in answer_pool if normalize_answer(a) and not exact_match(a, golds)}
    )
    if not candidates and golds:
        candidates = [m for m in (_mutated(golds[0]),) if not exact_match(m, golds)]
    if not candidates:
        return None
    replacement = f"answer({json.dumps(rng.choice(candidates))})"
    return Perturbation((*actions[:-1], replacement), len(actions) - 1, "wrong_answer")


def repeat(actions: Sequence[str], rng: random.Random) -> Perturbation | None:
    """Insert an identical copy of an earlier search or open somewhere before the answer.

    Returns:
        The perturbed list, or None when there is nothing to repeat.
    """
    tools = _tools(actions)
    sources = [i for i, tool in enumerate(tools) if tool in ("search", "open")]
    if not sources:
        return None
    source = rng.choice(sources)
    # The copy goes after its original and before the final answer, where there is one.
    last = len(actions) - 1 if tools[-1] == "answer" else len(actions)
    position = rng.randint(source + 1, last)
    perturbed = [*actions[:position], actions[source], *actions[position:]]
    return Perturbation(tuple(perturbed), position, "repeat")


def answer_pool(tasks: Sequence[Task], task: Task) -> list[str]:
    """Canonical answers of the other tasks of the same question type (all others if untyped)."""
    kind = task.metadata.get("type")
    return [
        other.privileged["answers"][0]
        for other in tasks
        if other.id != task.id
        and other.privileged.get("answers")
        and (kind is None or other.metadata.get("type") == kind)
    ]


def perturb_search(
    env: SearchQAEnv, task: Task, kind: str, rng: random.Random
) -> Perturbation | None:
    """One perturbation of ``kind`` of the oracle's actions for ``task`` in a search env.

    Args:
        env: The (unwrapped) env: its index supplies distractors, its tasks wrong answers.
        task: The task to perturb.
        kind: One of :data:`SEARCH_KINDS`.
        rng: Source of every choice.

    Returns:
        The perturbation, or None where this task admits no such kind.

    Raises:
        ValueError: For a kind not in :data:`SEARCH_KINDS`.
    """
    actions = oracle_actions(task)
    if kind == "none":
        return unperturbed(actions)
    if kind == "wrong_args":
        return wrong_args(task, actions, env.index, rng, env.top_k)
    if kind == "wrong_answer":
        return wrong_answer(task, actions, answer_pool(env.tasks, task), rng)
    if kind == "repeat":
        return repeat(actions, rng)
    raise ValueError(f"unknown perturbation kind {kind!r}; use one of {SEARCH_KINDS}")


PERTURBATIONS = FamilyPerturbations(perturb_search, SEARCH_KINDS)
"""The search family's ``perturbations`` piece (see ``prmgym.envs.search.family``)."""


_RESULT_ID = re.compile(r"^- \[([^\]]+)\]", re.MULTILINE)


def plausible_wrong_action(
    task: Task, right_action: str, observations: Sequence[str], rng: random.Random
) -> str:
    """A wrong action that looks like the right one, for noisy-oracle testbeds.

    A search keeps the right query's words but aims at another standard-library module; an
    open picks another document the last results listed (else another module's namesake); an
    answer is a near miss of the gold answer. The result is never the right action.
    """
    call = parse_tool_call(right_action)
    argument = str(call.args[0]) if call.args else ""
    if call.name == "answer":
        return f"answer({json.dumps(_mutated(argument))})"
    if call.name == "open":
        listed = _RESULT_ID.findall(observations[-1] if observations else "")
        others = [i for i in listed if i != argument]
        if others:
            return f"open({json.dumps(rng.choice(others))})"
    module = _module(argument.replace(" ", "."))
    other = rng.choice([m for m in STDLIB_MODULES if m != module])
    swapped = argument.replace(module, other, 1) if module in argument else f"{other} {argument}"
    return f"{call.name}({json.dumps(swapped)})"
