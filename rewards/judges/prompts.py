"""The judges' prompts: one criterion per chat for logit readout, many for generative judges."""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.generation import Chat
from prmgym.rewards.judges.base import JudgeQuery, Question

SYSTEM = (
    "You review one step taken by an agent working on a task. The step under review is the "
    "last one shown; judge only that step, using the task and the earlier steps as context. "
    "Be strict."
)

CONTEXT_CHARS = 6000
"""Most characters of context shown; the task and the latest steps are kept."""


def fit_context(context: str, limit: int = CONTEXT_CHARS) -> str:
    """Shorten the context from the middle, keeping its start (the task) and its end."""
    if len(context) <= limit:
        return context
    head = limit // 3
    return context[:head] + "\n[... earlier steps omitted ...]\n" + context[-(limit - head) :]


def _ask(question: Question) -> str:
    if question.pitfall:
        return f"Does the last step show this problem: {question.text}"
    return f"Does the last step meet this criterion: {question.text}"


def _body(query: JudgeQuery) -> str:
    # The step follows its context as the next step would, so the prompt for step i+1
    # starts with the whole prompt body of step i: a backend's prefix cache reuses it.
    return f"{fit_context(query.context)}\n\n{query.step}\n\n"


def single_question_chat(query: JudgeQuery, question: Question) -> Chat:
    """A chat whose reply should be one word, yes or no: the decision read from the logits."""
    text = f"{_body(query)}{_ask(question)}\nAnswer with one word: yes or no."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def many_questions_chat(query: JudgeQuery, questions: Sequence[Question]) -> Chat:
    """A chat asking several criteria at once, answered as JSON (or tagged verdicts)."""
    lines = [f"{i}. {_ask(q)}" for i, q in enumerate(questions, start=1)]
    example = ", ".join(f'"{i}": "yes"' if i % 2 else f'"{i}": "no"' for i in range(1, 3))
    text = (
        f"{_body(query)}Questions:\n"
        + "\n".join(lines)
        + "\n\nAnswer every question with yes or no, as one JSON object mapping the question"
        f" number to the answer, e.g. {{{example}}}."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


RETRY_NOTE = (
    "Your reply could not be read. Reply with only the JSON object, mapping each question"
    ' number to "yes" or "no".'
)
