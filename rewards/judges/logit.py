"""LogitJudge: the verdict read from the model's next-token distribution.

For each (step, criterion) the judge opens the reply and reads P(yes) and P(no) at its first
token, returning ``P(yes) / (P(yes) + P(no))`` (the readout GenPRM and ThinkPRM use). No text
is sampled, so the score is deterministic, continuous, and costs one forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from prmgym.generation import Chat, ChoiceBackend
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

        The criteria of one step share their whole prompt but the question, so a step with
        several criteria goes to the backend as its own batch: a backend with a prefix cache
        (transformers) then encodes the shared context once instead of once per criterion.
        Steps with a single criterion share nothing but the system prompt and go together in
        one batch.
        """
        tag = f"{self.name}:{self.choices}"
        keyed = [
            [
                (JudgeCache.key(chat, tag), chat)
                for chat in map(partial(single_question_chat, q), q.criteria)
            ]
            for q in queries
        ]
        batches: list[dict[str, Chat]] = []
        pooled: dict[str, Chat] = {}
        for group in keyed:
            todo = {key: chat for key, chat in group if self.cache.get(key) is None}
            self.stats.cache_hits += len(group) - len(todo)
            if len(todo) > 1:
                batches.append(todo)
            else:
                pooled.update(todo)
        for batch in [*batches, pooled]:
            if not batch:
                continue
            self.stats.prompts += len(batch)
            self.stats.backend_calls += 1
            rows = self.backend.choice_logprobs(list(batch.values()), self.choices)
            for key, (lp_yes, lp_no) in zip(batch, rows, strict=True):
                self.cache.put(key, [yes_probability(lp_yes, lp_no, self.default)])
        return [[self.cache.entries[key][0] for key, _ in group] for group in keyed]
