"""LLMPolicy: a language model acting through its family's prompt template.

Besides acting and sampling, it drafts for early rejection (a
:class:`~prmgym.agents.policies.base.PrefixPolicy`): ``sample_prefixes`` generates only the
first ``tau`` tokens of each candidate, and ``complete`` continues the chosen drafts as
prefilled assistant messages (see the prefill rule in :mod:`prmgym.generation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.agents.prompts import prompt_for
from prmgym.errors import ConfigError
from prmgym.generation import GenerationBackend, GenerationConfig, cut_at_stop


class LLMPolicy:
    """Generates the next action of every live episode in one batched backend call.

    Args:
        backend: Any generation backend (transformers, vLLM, OpenAI-compatible HTTP).
        config: Sampling settings; ``seed`` is offset per call so batches differ but runs
            repeat.
        name: Shown in reports.
    """

    def __init__(
        self,
        backend: GenerationBackend,
        config: GenerationConfig | None = None,
        name: str | None = None,
    ):
        self.backend = backend
        self.config = config or GenerationConfig(max_new_tokens=48, temperature=0.7, seed=0)
        self.name = name or backend.name
        self._calls = 0

    def act(self, episodes: Sequence[EpisodeView]) -> list[Decision]:
        """Build one chat per episode, generate them together, parse each completion."""
        return [draws[0] for draws in self.sample(episodes, 1)]

    def sample(self, episodes: Sequence[EpisodeView], k: int) -> list[list[Decision]]:
        """``k`` completions per episode from one batched call (distinct only when sampling).

        Under greedy decoding (temperature 0) the k drafts are identical; test-time search
        needs a temperature above 0.
        """
        return self._draw(episodes, k, self.config.max_new_tokens)

    def sample_prefixes(
        self, episodes: Sequence[EpisodeView], k: int, tau: int
    ) -> list[list[Decision]]:
        """``k`` drafts per episode cut after ``tau`` tokens, from one batched call.

        Like ``sample`` with ``max_new_tokens=min(tau, config.max_new_tokens)``. A draft is
        ``partial`` when that budget, and not the model or a stop string, ended it and the
        budget was below ``config.max_new_tokens``; its ``action`` is what its text says so
        far. Costs are counted as in ``sample``.

        Raises:
            ConfigError: ``tau`` is not a positive int.
        """
        if not isinstance(tau, int) or tau < 1:
            raise ConfigError(f"tau must be a positive int (tokens per draft), got {tau!r}")
        return self._draw(episodes, k, min(tau, self.config.max_new_tokens))

    def complete(
        self, episodes: Sequence[EpisodeView], prefixes: Sequence[Sequence[Decision]]
    ) -> list[list[Decision]]:
        """Finish every partial draft of every episode in one batched call (``n=1``).

        Each partial draft's text is sent as a final assistant message after its episode's
        chat, so the backend continues it. The call's ``max_new_tokens`` is what is left of
        ``config.max_new_tokens`` after the draft's ``completion_tokens`` (at least 1); one call
        takes one budget, so drafts with different remainders all get the largest (the simplest
        correct choice: none is cut early, and a draft may run over ``config.max_new_tokens``
        by at most the difference). Backends that report no token ids (OpenAI-compatible
        servers) leave ``completion_tokens`` at 0, so their drafts get the whole budget again.

        A completed decision holds the draft's text plus the continuation (cut at the first
        stop string, which may straddle the two), the action parsed from that, and the costs of
        the continuation call alone: its prompt tokens (prefill included), its new tokens, one
        LLM call. The draft's own costs stay on the draft.

        Args:
            episodes: The live episodes.
            prefixes: Per episode, the drafts to finish.

        Returns:
            The shape of ``prefixes``: partial drafts completed, the others returned unchanged.

        Raises:
            ValueError: ``prefixes`` does not hold one list of drafts per episode.
        """
        if len(prefixes) != len(episodes):
            raise ValueError(
                f"got drafts for {len(prefixes)} episodes, but {len(episodes)} episodes"
            )
        results = [list(drafts) for drafts in prefixes]
        todo = [
            (i, j) for i, drafts in enumerate(prefixes) for j, d in enumerate(drafts) if d.partial
        ]
        if not todo:
            return results
        prompts = [prompt_for(e.family) for e in episodes]
        chats = [
            [
                *prompts[i].build_chat(episodes[i].observations, episodes[i].actions),
                {"role": "assistant", "content": prefixes[i][j].completion},
            ]
            for i, j in todo
        ]
        budget = max(self.config.max_new_tokens - prefixes[i][j].completion_tokens for i, j in todo)
        outputs = self.backend.generate(
            chats, self._next_config(n=1, max_new_tokens=max(1, budget))
        )
        for (i, j), (completion,) in zip(todo, outputs, strict=True):
            # A partial draft holds no stop string, but one may span the draft and continuation.
            text, _ = cut_at_stop(prefixes[i][j].completion + completion.text, self.config.stop)
            results[i][j] = Decision(
                action=prompts[i].parse_action(text),
                completion=text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=len(completion.token_ids),
                llm_calls=1,
            )
        return results

    def _draw(
        self, episodes: Sequence[EpisodeView], k: int, max_new_tokens: int
    ) -> list[list[Decision]]:
        """``k`` decisions per episode with at most ``max_new_tokens`` each, from one call."""
        if not episodes:
            return []
        prompts = [prompt_for(e.family) for e in episodes]
        chats = [
            p.build_chat(e.observations, e.actions) for p, e in zip(prompts, episodes, strict=True)
        ]
        outputs = self.backend.generate(
            chats, self._next_config(n=k, max_new_tokens=max_new_tokens)
        )
        cut_short = max_new_tokens < self.config.max_new_tokens
        return [
            [
                Decision(
                    action=prompt.parse_action(completion.text),
                    completion=completion.text,
                    prompt_tokens=completion.prompt_tokens if i == 0 else 0,
                    completion_tokens=len(completion.token_ids),
                    llm_calls=1,
                    partial=cut_short and completion.finish_reason == "length",
                )
                for i, completion in enumerate(completions)
            ]
            for prompt, completions in zip(prompts, outputs, strict=True)
        ]

    def _next_config(self, **changes: Any) -> GenerationConfig:
        """The policy's config with ``changes``, its seed offset by the calls made so far."""
        config = replace(self.config, **changes)
        if config.seed is not None:
            config = replace(config, seed=config.seed + self._calls)
        self._calls += 1
        return config
