"""GenerativeJudge: the verdict parsed from text, for backends that only generate.

Each step's criteria go into as few chats as fit ``max_prompt_chars`` (usually one), the model
answers every question in one JSON object, and replies that cannot be read get one retry in
which the model is told what was wrong. Questions still unanswered get ``default`` (0.5,
stated, counted in ``stats.defaults``). All chats of a ``judge`` call are sent in one batched
``generate``, and the retries in a second.
"""

from __future__ import annotations

from collections.abc import Sequence

from prmgym.generation import Chat, GenerationBackend, GenerationConfig
from prmgym.rewards.judges.base import JudgeCache, JudgeQuery, JudgeStats, Question
from prmgym.rewards.judges.prompts import RETRY_NOTE, many_questions_chat
from prmgym.rewards.judges.verdicts import parse_verdicts


class GenerativeJudge:
    """A :class:`~prmgym.rewards.judges.base.Judge` that reads JSON or tagged verdicts.

    Args:
        backend: Any generation backend.
        default: Probability given to a question whose verdict could not be read after the
            retry.
        max_prompt_chars: Criteria of one step are split across chats beyond this length.
        max_new_tokens: Reply budget per chat (a JSON object of yes/no answers is short).
    """

    def __init__(
        self,
        backend: GenerationBackend,
        *,
        default: float = 0.5,
        max_prompt_chars: int = 6000,
        max_new_tokens: int = 96,
    ) -> None:
        self.backend = backend
        self.default = default
        self.max_prompt_chars = max_prompt_chars
        self.config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
        self.name = f"generative:{backend.name}"
        self.cache = JudgeCache()
        self.stats = JudgeStats()

    def _chunks(self, query: JudgeQuery) -> list[tuple[Question, ...]]:
        """Split a query's criteria so each chat stays within ``max_prompt_chars``."""
        chunks: list[tuple[Question, ...]] = []
        current: list[Question] = []
        for question in query.criteria:
            trial = [*current, question]
            size = sum(len(m["content"]) for m in many_questions_chat(query, trial))
            if current and size > self.max_prompt_chars:
                chunks.append(tuple(current))
                trial = [question]
            current = trial
        if current:
            chunks.append(tuple(current))
        return chunks

    def _generate(self, chats: list[Chat]) -> list[str]:
        self.stats.backend_calls += 1
        self.stats.prompts += len(chats)
        return [row[0].text for row in self.backend.generate(chats, self.config)]

    def judge(self, queries: Sequence[JudgeQuery]) -> list[list[float]]:
        """P(yes) per criterion of each query; see the module docstring."""
        jobs = [(i, chunk) for i, query in enumerate(queries) for chunk in self._chunks(query)]
        chats = [many_questions_chat(queries[i], chunk) for i, chunk in jobs]
        keys = [JudgeCache.key(chat, self.name) for chat in chats]
        todo = {
            key: chat for key, chat in zip(keys, chats, strict=True) if self.cache.get(key) is None
        }
        self.stats.cache_hits += len(chats) - len(todo)
        if todo:
            counts = {
                key: len(chunk) for key, (_, chunk) in zip(keys, jobs, strict=True) if key in todo
            }
            replies = dict(zip(todo, self._generate(list(todo.values())), strict=True))
            verdicts = {key: parse_verdicts(replies[key], counts[key]) for key in todo}
            retry = [key for key in todo if None in verdicts[key]]
            if retry:
                self.stats.retries += len(retry)
                again = [
                    [
                        *todo[key],
                        {"role": "assistant", "content": replies[key]},
                        {"role": "user", "content": RETRY_NOTE},
                    ]
                    for key in retry
                ]
                for key, text in zip(retry, self._generate(again), strict=True):
                    second = parse_verdicts(text, counts[key])
                    verdicts[key] = [
                        a if a is not None else b
                        for a, b in zip(verdicts[key], second, strict=True)
                    ]
            for key in todo:
                missing = sum(v is None for v in verdicts[key])
                self.stats.defaults += missing
                self.cache.put(key, [self.default if v is None else v for v in verdicts[key]])
        results: list[list[float]] = [[] for _ in queries]
        for (i, _), key in zip(jobs, keys, strict=True):
            results[i].extend(self.cache.entries[key])
        return results
