"""The generation contract: a batch of chats in, ``n`` completions per chat out.

It lives in the core because two parts call models: agents act with them and rewards judge with
them (the judges sit below agents in the layering). The implementations live in
``prmgym.agents.backends``.

A backend hides where tokens come from (transformers on CPU, vLLM on a GPU, any
OpenAI-compatible HTTP server) behind one method::

    backend = make_backend("smollm2")
    [[completion]] = backend.generate(
        [[{"role": "user", "content": "Say hi."}]],
        GenerationConfig(max_new_tokens=16, temperature=0.0),
    )
    completion.text, completion.token_ids, completion.logprobs, completion.finish_reason

Rules every backend keeps:

* ``generate(chats, config)`` returns one list per chat, in the order of ``chats``, each holding
  exactly ``config.n`` completions. Backends batch internally; callers pass whole batches.
* ``temperature == 0`` means greedy decoding; otherwise tokens are sampled with the given
  temperature and nucleus ``top_p``, and nothing else (no hidden top-k).
* Stop strings: ``text`` is cut just before the first occurrence of any ``config.stop`` string
  (the stop string itself is excluded) and ``finish_reason`` is ``"stop"``. ``"stop"`` also means
  the model emitted its end-of-sequence token; ``"length"`` means ``max_new_tokens`` ran out.
* ``token_ids`` are the sampled tokens without end-of-sequence or padding tokens; when a stop
  string ended generation they run up to and including the token that completed it, so they may
  decode to slightly more than ``text``. ``logprobs`` has one entry per token id (empty when the
  backend cannot report them, e.g. a server that returns no token ids or log-probs).
* Log-probs are under the model's own next-token distribution, before temperature and top-p
  (what vLLM and OpenAI-compatible servers report), so they do not depend on sampling settings.
* Prefill: when a chat's last message has role ``"assistant"``, the backend continues that
  message instead of opening a new assistant turn (the chat template runs without its
  end-of-turn after that message; see :func:`continues_final_message`). ``text``,
  ``token_ids`` and ``logprobs`` cover only the newly generated continuation, not the prefill,
  and stop strings are looked for in the continuation only; ``prompt_tokens`` counts the
  templated prompt including the prefill.
* A failing or missing backend raises :class:`prmgym.errors.ProviderError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from prmgym.errors import ConfigError

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

Chat = list[Message]
"""A chat history, oldest message first."""

FinishReason = Literal["stop", "length"]


@dataclass
class Completion:
    """One generated continuation of a chat."""

    text: str
    """The generated text, cut before the first stop string."""
    token_ids: list[int]
    """Sampled token ids, without end-of-sequence or padding tokens."""
    logprobs: list[float]
    """Log-prob of each token in ``token_ids`` under the untempered model distribution."""
    prompt_tokens: int
    """How many tokens the chat-templated prompt took."""
    finish_reason: FinishReason
    """``"stop"`` (end-of-sequence or stop string) or ``"length"`` (ran out of tokens)."""


@dataclass
class GenerationConfig:
    """How to sample completions; validated on creation."""

    max_new_tokens: int = 128
    """Most tokens generated per completion."""
    temperature: float = 0.8
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass in (0, 1]; 1 keeps the whole distribution."""
    n: int = 1
    """Completions per chat (identical under greedy decoding)."""
    stop: tuple[str, ...] = field(default=())
    """Strings that end a completion; the text is cut before the first one."""
    seed: int | None = None
    """Seed for sampling; the same seed, chats and config give the same completions."""

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            raise ConfigError(
                f"stop must be a tuple of strings, got the string {self.stop!r}; "
                f"write stop=({self.stop!r},)"
            )
        self.stop = tuple(self.stop)
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ConfigError(
                f"max_new_tokens must be a positive int, got {self.max_new_tokens!r}; "
                "use e.g. max_new_tokens=128"
            )
        if self.temperature < 0:
            raise ConfigError(
                f"temperature must be >= 0, got {self.temperature}; use 0 for greedy decoding"
            )
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}; use 1.0 to disable it")
        if not isinstance(self.n, int) or self.n < 1:
            raise ConfigError(f"n must be a positive int, got {self.n!r}; use n=1 for one sample")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ConfigError(f"stop strings must be non-empty strings, got {self.stop!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an int or None, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (``temperature == 0``)."""
        return self.temperature == 0


@runtime_checkable
class GenerationBackend(Protocol):
    """Anything that turns a batch of chats into completions (see the module docstring)."""

    name: str
    """Identifies the backend and model in logs and results, e.g. ``"transformers:smollm2"``."""

    def generate(self, chats: Sequence[Chat], config: GenerationConfig) -> list[list[Completion]]:
        """Generate ``config.n`` completions for each chat.

        Args:
            chats: Chat histories; each is templated with the model's chat template and an
                assistant turn is opened for the completion, except that a chat whose last
                message is the assistant's is continued from that message (prefill): the
                completion then holds only the new text, and ``prompt_tokens`` includes the
                prefill. Chats of both kinds may share a batch.
            config: Sampling settings shared by the whole batch.

        Returns:
            One list of ``config.n`` completions per chat, in the order of ``chats``.

        Raises:
            ProviderError: The model or server failed.
        """
        ...


def continues_final_message(chat: Chat) -> bool:
    """Whether a backend continues ``chat``'s last message instead of opening a new turn.

    True when the last message has role ``"assistant"`` (prefill, see the module docstring).

    Args:
        chat: A chat history.

    Returns:
        True for a chat that ends with an assistant message, False otherwise (empty included).
    """
    return bool(chat) and chat[-1].get("role") == "assistant"


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest occurrence of any stop string.

    Args:
        text: Generated text.
        stop: Stop strings; empty means no cut.

    Returns:
        The text up to (excluding) the first stop string, and whether one was found.
    """
    positions = [i for i in (text.find(s) for s in stop) if i >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


@runtime_checkable
class ChoiceBackend(Protocol):
    """A backend that can also read a decision straight from the next-token distribution.

    Judges use it for logit readout (GenPRM, ThinkPRM): instead of sampling a verdict and parsing
    it, they read P(yes) and P(no) at the first assistant position, which is deterministic and
    costs one forward pass instead of a generation.
    """

    name: str

    def choice_logprobs(self, chats: Sequence[Chat], choices: Sequence[str]) -> list[list[float]]:
        """Log-probability of each choice as the first token of the assistant's reply.

        Each chat is templated exactly as ``generate`` does (an assistant turn opened, or a final
        assistant message continued), so the choice is read at the next token. A
        choice's probability is the total mass of the tokens that spell it at the start of a
        reply: the word itself, capitalised or not, with or without a leading space (``yes``,
        ``Yes``, `` yes``, `` Yes``), each counted once.

        Args:
            chats: Chat histories, batched internally like ``generate``.
            choices: Words to read, e.g. ``("yes", "no")``; compared case-insensitively.

        Returns:
            One list per chat with one log-prob per choice, in the order of ``choices``;
            ``-inf`` where the backend saw none of a choice's tokens (servers report only their
            top tokens).

        Raises:
            ProviderError: The model or server failed.
        """
        ...


def choice_logprobs_from_top(
    top: Iterable[tuple[str, float]], choices: Sequence[str]
) -> list[float]:
    """Read per-choice log-probs from the top tokens a server reports for one position.

    Servers report each candidate token's text, not its id, so a token counts for a choice when
    its text, stripped of whitespace and lower-cased, equals the choice lower-cased (``Yes``,
    `` yes`` and ``YES`` all count for ``yes``). The entries are distinct tokens, so the mass of
    every match is summed.

    Args:
        top: ``(token text, log-prob)`` for each reported token.
        choices: Words to read, as for ``ChoiceBackend.choice_logprobs``.

    Returns:
        One log-prob per choice, in the order of ``choices``; ``-inf`` when no token matched.
    """
    tokens = [(text.strip().lower(), logprob) for text, logprob in top]
    results = []
    for choice in choices:
        word = choice.strip().lower()
        mass = math.fsum(math.exp(logprob) for text, logprob in tokens if text == word)
        results.append(math.log(mass) if mass > 0 else -math.inf)
    return results
