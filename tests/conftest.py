"""Tiny random chat models built offline, so tests never touch the network.

The model is a 2-layer ``LlamaForCausalLM`` with a BPE tokenizer trained on a few sentences.
Its chat template is ChatML::

    <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n

``<|im_end|>`` is the eos token and ``<|endoftext|>`` the (distinct) pad token. Every token
decodes to printable ASCII, so generated text is readable in test failures.

``chat_completions_server`` serves that model over a real OpenAI-compatible HTTP endpoint.
"""

from __future__ import annotations

import socket
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so CI cannot fail on a lucky draw; a
# failure found once is found again.
settings.register_profile("prmgym", derandomize=True, deadline=None)
settings.load_profile("prmgym")

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from prmgym.agents.backends.transformers_backend import TransformersBackend
    from prmgym.generation import Completion

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Vertical tab, form feed and carriage return would only make failure messages hard to read.
_ALPHABET = string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")

_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]

_CORPUS = [
    "search the index for the answer and read the page",
    "the agent calls a tool, reads the result and answers the question",
    "system user assistant: you are a helpful assistant",
    "open the file, edit one line, run the tests, submit",
    "what is the capital of France? Paris is the capital of France.",
]


def _build_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Metaspace (not byte-level) keeps every token printable; seeding the alphabet with the
    # printable ASCII characters means any ASCII prompt encodes without <unk>. No prepended
    # space, so decode(encode(text)) == text.
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    bpe.decoder = decoders.Metaspace(prepend_scheme="never")
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=list(_ALPHABET),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_chat_model(path: str | Path) -> Path:
    """Save a tiny random Llama chat model and its tokenizer to ``path`` and return it.

    The weights are seeded, so two builds are identical. A larger-than-default
    ``initializer_range`` makes next-token distributions peaked, so greedy decoding does not
    hinge on float noise between near-tied logits.
    """
    # Imported here so that test runs that never build a model skip loading torch.
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = _build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        initializer_range=0.3,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random chat model saved once per test session."""
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@dataclass
class ChatCompletionsServer:
    """A live chat-completions server on loopback, answering with the tiny model.

    ``POST {url}/chat/completions`` takes ``messages``, ``max_tokens``, ``temperature``,
    ``top_p``, ``n``, ``seed``, ``stop``, ``logprobs`` and ``top_logprobs``, and answers like
    OpenAI's API: each generated token's log-prob and, when asked, its real top-k alternatives
    (decoded text and log-prob). Completions come from ``backend.generate``; only generated
    tokens are reported, so a reply that ends at once has no log-prob entries.

    Like vLLM's server it also takes ``continue_final_message`` and ``add_generation_prompt``:
    with ``continue_final_message: true`` (and ``add_generation_prompt: false``) it continues
    the final assistant message and answers with the continuation only. It answers 400 where
    vLLM would (both flags true) and where it cannot act like vLLM: a final assistant message
    without ``continue_final_message`` (vLLM would open a new turn after it; the backend
    continues it), or ``continue_final_message`` after a message of another role.
    """

    url: str
    """Base URL with the API prefix, e.g. ``OpenAIBackend(server.url, "tiny")``."""
    backend: TransformersBackend
    """The backend serving the requests, to compare HTTP results with local ones."""
    failures: list[int] = field(default_factory=list)
    """Status codes to answer the next requests with, one per request, before serving again."""
    calls: int = 0
    """Requests received so far, failed ones included."""


def _top_logprobs(
    backend: TransformersBackend, messages: list[dict[str, str]], completion: Completion, k: int
) -> list[list[dict[str, Any]]]:
    """The k most likely tokens at each generated position, from one forward pass."""
    import torch

    from prmgym.generation import continues_final_message

    tokenizer = backend.tokenizer
    # Template the prompt as the backend did, or the positions would not line up.
    if continues_final_message(messages):
        flags = {"continue_final_message": True, "add_generation_prompt": False}
    else:
        flags = {"add_generation_prompt": True}
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, **flags)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = backend.model(torch.tensor([prompt_ids + completion.token_ids])).logits[0]
    steps = logits[len(prompt_ids) - 1 : len(prompt_ids) - 1 + len(completion.token_ids)]
    top = torch.log_softmax(steps.float(), dim=-1).topk(k, dim=-1)
    return [
        [
            {"token": tokenizer.decode([token]), "logprob": logprob}
            for token, logprob in zip(ids, values, strict=True)
        ]
        for ids, values in zip(top.indices.tolist(), top.values.tolist(), strict=True)
    ]


def _chat_completions_app(server: ChatCompletionsServer) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from prmgym.generation import GenerationConfig, continues_final_message

    def template_error(body: dict[str, Any]) -> str | None:
        """Why the chat template flags cannot be served as vLLM would, or None."""
        continued = bool(body.get("continue_final_message", False))
        if continued and body.get("add_generation_prompt", True):
            return "continue_final_message needs add_generation_prompt false"
        if continued != continues_final_message(body["messages"]):
            return "continue_final_message is sent exactly when the last message is the assistant's"
        return None

    app = FastAPI()
    # Requests arrive concurrently; one at a time keeps the model's outputs and `calls` exact.
    lock = threading.Lock()

    @app.post("/v1/chat/completions")
    def complete(body: dict[str, Any]) -> Any:
        with lock:
            server.calls += 1
            if server.failures:
                return JSONResponse(
                    {"error": {"message": "overloaded"}}, status_code=server.failures.pop(0)
                )
            error = template_error(body)
            if error is not None:
                return JSONResponse({"error": {"message": error}}, status_code=400)
            config = GenerationConfig(
                max_new_tokens=body.get("max_tokens", 16),
                temperature=body.get("temperature", 1.0),
                top_p=body.get("top_p", 1.0),
                n=body.get("n", 1),
                seed=body.get("seed"),
                stop=tuple(body.get("stop") or ()),
            )
            (completions,) = server.backend.generate([body["messages"]], config)
            choices = []
            for i, completion in enumerate(completions):
                logprobs = None
                if body.get("logprobs"):
                    tokenizer = server.backend.tokenizer
                    content = [
                        {"token": tokenizer.decode([token]), "logprob": logprob}
                        for token, logprob in zip(
                            completion.token_ids, completion.logprobs, strict=True
                        )
                    ]
                    if body.get("top_logprobs"):
                        tops = _top_logprobs(
                            server.backend, body["messages"], completion, body["top_logprobs"]
                        )
                        for entry, top in zip(content, tops, strict=True):
                            entry["top_logprobs"] = top
                    logprobs = {"content": content}
                choices.append(
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": completion.text},
                        "finish_reason": completion.finish_reason,
                        "logprobs": logprobs,
                    }
                )
            return {"choices": choices, "usage": {"prompt_tokens": completions[0].prompt_tokens}}

    return app


@pytest.fixture(scope="session")
def _chat_completions_server_session(tiny_model_dir: Path) -> Iterator[ChatCompletionsServer]:
    import uvicorn

    from prmgym.agents.backends.transformers_backend import TransformersBackend

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ChatCompletionsServer(
        url=f"http://127.0.0.1:{port}/v1", backend=TransformersBackend(tiny_model_dir)
    )
    app = _chat_completions_app(server)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not uv.started:
        pytest.fail("the chat-completions test server did not start within 20 s")
    yield server
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def chat_completions_server(
    _chat_completions_server_session: ChatCompletionsServer,
) -> Iterator[ChatCompletionsServer]:
    """The session's chat-completions server; failures a test queued but did not use are dropped.

    Usage: ``OpenAIBackend(chat_completions_server.url, "tiny")``; queue HTTP errors with
    ``chat_completions_server.failures.extend([503, 503])``.
    """
    server = _chat_completions_server_session
    yield server
    server.failures.clear()
