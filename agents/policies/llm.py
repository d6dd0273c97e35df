"""LLMPolicy: a language model acting through its family's prompt template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from prmgym.agents.policies.base import Decision, EpisodeView
from prmgym.agents.prompts import prompt_for
from prmgym.generation import GenerationBackend, GenerationConfig


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
        if not episodes:
            return []
        prompts = [prompt_for(e.family) for e in episodes]
        chats = [
            p.build_chat(e.observations, e.actions) for p, e in zip(prompts, episodes, strict=True)
        ]
        config = replace(self.config, n=k)
        if config.seed is not None:
            config = replace(config, seed=config.seed + self._calls)
        self._calls += 1
        outputs = self.backend.generate(chats, config)
        return [
            [
                Decision(
                    action=prompt.parse_action(completion.text),
                    completion=completion.text,
                    prompt_tokens=completion.prompt_tokens if i == 0 else 0,
                    completion_tokens=len(completion.token_ids),
                    llm_calls=1,
                )
                for i, completion in enumerate(completions)
            ]
            for prompt, completions in zip(prompts, outputs, strict=True)
        ]
