"""Generation through any OpenAI-compatible chat-completions server (vLLM's, llama.cpp's, ...).

One HTTP request per chat, sent concurrently; each asks for ``n`` choices. Servers return text,
not token ids, so ``Completion.token_ids`` is empty; ``logprobs`` are filled when the server
reports ``choices[i].logprobs.content[*].logprob``. ``choice_logprobs`` reads the first token's
``top_logprobs`` (at most 20 on OpenAI's API), so choices outside those come back as ``-inf``.

A chat ending with an assistant message is continued (prefill) by sending vLLM's extra request
fields ``continue_final_message: true`` and ``add_generation_prompt: false``. vLLM's server
honours them and returns only the continuation; servers without them (OpenAI's API, some
others) may ignore them and open a new assistant turn after the message instead, or reject
the request.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from prmgym.errors import ProviderError
from prmgym.generation import (
    Chat,
    Completion,
    GenerationConfig,
    choice_logprobs_from_top,
    continues_final_message,
    cut_at_stop,
)

# The most top_logprobs OpenAI's API accepts, and vLLM's default limit.
_TOP_LOGPROBS = 20


class OpenAIBackend:
    """A :class:`~prmgym.generation.GenerationBackend` and ``ChoiceBackend`` over HTTP.

    Args:
        base_url: Server root including the API prefix, e.g. ``"http://127.0.0.1:8000/v1"``;
            requests go to ``{base_url}/chat/completions``.
        model: Model name the server knows.
        api_key: Bearer token; defaults to ``$OPENAI_API_KEY`` and may be absent (local servers).
        timeout: Seconds allowed per HTTP request.
        max_retries: Extra attempts after a 5xx answer or a connection error.
        retry_backoff_s: Wait before the first retry; doubled for each later one.
        max_concurrency: Most requests in flight at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        *,
        retry_backoff_s: float = 0.5,
        max_concurrency: int = 16,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.max_concurrency = max_concurrency
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def generate(self, chats: Sequence[Chat], config: GenerationConfig) -> list[list[Completion]]:
        """Generate ``config.n`` completions per chat; see ``GenerationBackend.generate``."""
        if not chats:
            return []
        workers = min(len(chats), self.max_concurrency)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda chat: self._complete(chat, config), chats))

    def choice_logprobs(self, chats: Sequence[Chat], choices: Sequence[str]) -> list[list[float]]:
        """Log-prob of each choice as the reply's first token; see ``ChoiceBackend``.

        One greedy one-token request per chat, sent concurrently, asking for the first token's
        top 20 log-probs; they map to choices by ``choice_logprobs_from_top``.
        """
        if not chats:
            return []
        workers = min(len(chats), self.max_concurrency)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda chat: self._choice(chat, choices), chats))

    def _choice(self, chat: Chat, choices: Sequence[str]) -> list[float]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(chat),
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": _TOP_LOGPROBS,
            **_template_fields(chat),
        }
        payload = self._post(body)
        try:
            first = payload["choices"][0]["logprobs"]["content"][0]
            top = [(entry["token"], float(entry["logprob"])) for entry in first["top_logprobs"]]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ProviderError(
                f"{self.url} returned no top log-probs for the first token: {payload!r}"
            ) from e
        return choice_logprobs_from_top(top, choices)

    def _complete(self, chat: Chat, config: GenerationConfig) -> list[Completion]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(chat),
            "n": config.n,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_new_tokens,
            "logprobs": True,
            **_template_fields(chat),
        }
        if config.stop:
            body["stop"] = list(config.stop)
        if config.seed is not None:
            body["seed"] = config.seed
        payload = self._post(body)
        try:
            choices = sorted(payload["choices"], key=lambda c: c.get("index", 0))
            prompt_tokens = int((payload.get("usage") or {}).get("prompt_tokens", 0))
            return [self._completion(choice, prompt_tokens, config.stop) for choice in choices]
        except (KeyError, TypeError, ValueError) as e:
            raise ProviderError(f"{self.url} returned an unexpected response: {payload!r}") from e

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TransportError as e:
                if last_try:
                    raise ProviderError(f"could not reach {self.url}: {e}") from e
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError as e:
                        raise ProviderError(
                            f"{self.url} answered non-JSON: {response.text!r}"
                        ) from e
                if response.status_code < 500 or last_try:
                    raise ProviderError(
                        f"{self.url} answered {response.status_code}: {_server_message(response)}"
                    )
            time.sleep(self.retry_backoff_s * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _completion(choice: dict[str, Any], prompt_tokens: int, stop: Sequence[str]) -> Completion:
        # Servers apply stop strings themselves; cutting again covers those that ignore them.
        text, stopped = cut_at_stop(choice["message"].get("content") or "", stop)
        content = (choice.get("logprobs") or {}).get("content") or []
        ran_out = choice.get("finish_reason") == "length" and not stopped
        return Completion(
            text=text,
            token_ids=[],
            logprobs=[float(token["logprob"]) for token in content],
            prompt_tokens=prompt_tokens,
            finish_reason="length" if ran_out else "stop",
        )


def _template_fields(chat: Chat) -> dict[str, bool]:
    """The extra request fields (vLLM's) that continue a final assistant message, else {}.

    Sent only when continuing, so plain requests stay valid for servers that reject unknown
    fields. vLLM refuses ``continue_final_message`` together with its default
    ``add_generation_prompt: true``, hence both.
    """
    if continues_final_message(chat):
        return {"continue_final_message": True, "add_generation_prompt": False}
    return {}


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error) if error is not None else response.text
