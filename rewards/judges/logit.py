"""LogitJudge: the verdict read from the model's next-token distribution.

For each (step, criterion) the judge opens the reply and reads P(yes) and P(no) at its first
token, returning ``P(yes) / (P(yes) + P(no))`` (the readout GenPRM and ThinkPRM use). No text
is sampled, so the score is deterministic, continuous, and costs one forward pass. The
questions about one step go to the backend as one batch sharing its prompt prefix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from prmgym.generation import ChoiceBackend
from prmgym.rewards.judges.base import JudgeCache, JudgeQuery, JudgeStats
from prmgym.rewards.judges.prompts import single_question_chat

CHOICES = ("yes", "no")


def yes_probability(logprob_yes: float, logprob_no: float, default: float) -> float:
    """``P(yes) / (P(yes) + P(no))`` from log-probs; ``default`` when neither was seen."""
    if logprob_yes == -math.inf and logprob_no == -math.inf:
        return default
    # sigmoid(lp_yes - lp_no), written to stay finite when one side is -inf.
    top = max(logprob_yes, logprob_no)
    yes, no = math.exp(logprob_yes - top), math.exp(logprob_no - top)
    return yes / (yes + no)


class LogitJudge:
    """A :class:`~prmgym.rewards.judges.base.Judge` reading P(yes) from logits.

    Args:
        backend: Any backend with ``choice_logprobs`` (transformers, vLLM, OpenAI-compatible).
        default: The probability given when the model put no mass on either word (a server's
            top log-probs may hold neither): 0.5, "no information".
        choices: The affirmative and negative words read, for prompts in other languages or
            models that answer in other words.
    """

    def __init__(
        self,
        backend: ChoiceBackend,
        *,
        default: float = 0.5,
        choices: tuple[str, str] = CHOICES,
    ) -> None:
        self.backend = backend
        self.default = default
        self.choices = choices
        self.name = f"logit:{backend.name}"
        self.cache = JudgeCache()
        self.stats = JudgeStats()

    def judge(self, queries: Sequence[JudgeQuery]) -> list[list[float]]:
        """P(yes) per criterion of each query; see the module docstring.

        The criteria of one step share their whole prompt but the question, so each step's
        chats go to the backend together: a backend with a prefix cache (transformers) then
        encodes the shared context once per step instead of once per criterion.
        """
        keyed = [
            [
                (JudgeCache.key(chat, f"{self.name}:{self.choices}"), chat)
                for chat in (single_question_chat(query, c) for c in query.criteria)
            ]
            for query in queries
        ]
        for group in keyed:
            todo = {key: chat for key, chat in group if self.cache.get(key) is None}
            self.stats.cache_hits += len(group) - len(todo)
            if not todo:
                continue
            self.stats.prompts += len(todo)
            self.stats.backend_calls += 1
            rows = self.backend.choice_logprobs(list(todo.values()), self.choices)
            for key, (lp_yes, lp_no) in zip(todo, rows, strict=True):
                self.cache.put(key, [yes_probability(lp_yes, lp_no, self.default)])
        return [[self.cache.entries[key][0] for key, _ in group] for group in keyed]
