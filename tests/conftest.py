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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An integration test (a real model, browser or package build) is slow too.

    So ``-m "not slow"`` is the quick loop while developing, and CI runs everything.
    """
    for item in items:
        if item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.slow)


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


@dataclass
class VLLMServer:
    """A loopback stand-in of the vLLM server routes TRL's ``VLLMClient`` calls.

    ``GET /health``, ``/v1/models`` (one model, ``"tiny"``) and ``/get_world_size``;
    ``POST /v1/completions`` with token-id prompts (a list of lists), answered like vLLM:
    ``n`` choices per prompt, prompt-major, each with ``prompt_token_ids``, ``token_ids`` (the
    end-of-sequence token included when generation ended on it), ``text`` (cut before a stop
    string), ``finish_reason`` and, unless ``logprobs`` is null, log-probs in the completions
    format with ``"token_id:<id>"`` tokens: each sampled token's log-prob and, per position,
    the ``logprobs`` likeliest alternatives plus the sampled token. ``POST
    /reset_prefix_cache``, ``/start_weight_update`` and ``/finish_weight_update`` answer ``{}``.

    Generation is plain ``model.generate`` on ``model``, which a test may change (e.g. load
    weights a sync pushed). Requests it cannot serve as vLLM would get 400, never a 5xx (the
    client backs off for seconds on those). Build the client with
    ``trl.generation.vllm_client.is_vllm_available`` monkeypatched to return True.
    """

    url: str
    """Root URL, e.g. ``VLLMServerBackend(server.url, server.tokenizer)``."""
    model: Any
    """The ``LlamaForCausalLM`` generating the answers, a copy of its own."""
    tokenizer: PreTrainedTokenizerFast
    """The tiny model's tokenizer."""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """``(path, JSON body)`` of every request received, in order (GET bodies are ``{}``)."""


def _vllm_choice(
    server: VLLMServer, prompt: list[int], row: list[int], body: dict[str, Any]
) -> dict[str, Any]:
    """One vLLM completions choice for a generated row (pad after an early end included)."""
    import torch

    tokenizer = server.tokenizer
    stop = body.get("stop") or []
    ids, finish = row, "length"
    for end in range(1, len(row) + 1):
        # vLLM ends on eos (kept in token_ids) or once the text holds a stop string.
        text = tokenizer.decode(row[:end], skip_special_tokens=True)
        if row[end - 1] == tokenizer.eos_token_id or any(s in text for s in stop):
            ids, finish = row[:end], "stop"
            break
    text = tokenizer.decode(ids, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    text = text[: min(cuts)] if cuts else text
    choice: dict[str, Any] = {
        "text": text,
        "prompt_token_ids": prompt,
        "token_ids": ids,
        "finish_reason": finish,
        "logprobs": None,
    }
    k = body.get("logprobs")
    if k is not None:
        with torch.inference_mode():
            logits = server.model(torch.tensor([prompt + ids])).logits[0]
        steps = torch.log_softmax(logits[len(prompt) - 1 : -1].float(), dim=-1)
        sampled = steps.gather(1, torch.tensor(ids)[:, None]).squeeze(1).tolist()
        top = steps.topk(k, dim=-1) if k else None
        tops = []
        for t, token in enumerate(ids):
            alternatives = {f"token_id:{token}": sampled[t]}
            if top is not None:
                pairs = zip(top.indices[t].tolist(), top.values[t].tolist(), strict=True)
                alternatives.update({f"token_id:{i}": lp for i, lp in pairs})
            tops.append(alternatives)
        choice["logprobs"] = {
            "tokens": [f"token_id:{token}" for token in ids],
            "token_logprobs": sampled,
            "top_logprobs": tops,
        }
    return choice


def _vllm_completions(server: VLLMServer, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import torch

    prompts = body.get("prompt")
    if not (
        isinstance(prompts, list)
        and all(isinstance(p, list) and all(isinstance(i, int) for i in p) for p in prompts)
    ):
        return 400, {"error": "the stand-in takes token-id prompts only (a list of lists)"}
    if not (body.get("return_token_ids") and body.get("return_tokens_as_token_ids")):
        return 400, {"error": "return_token_ids and return_tokens_as_token_ids must be set"}
    if (body.get("top_k", 0), body.get("min_p", 0.0), body.get("repetition_penalty", 1.0)) not in (
        (0, 0.0, 1.0),
        (-1, 0.0, 1.0),
    ):
        return 400, {"error": "the stand-in does not implement top_k, min_p or repetition_penalty"}
    n = body.get("n", 1)
    temperature = body.get("temperature", 1.0)
    sampling: dict[str, Any] = {"do_sample": False}
    if temperature != 0:
        top_p = body.get("top_p", 1.0)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    if body.get("seed") is not None:
        torch.manual_seed(body["seed"])
    choices = []
    for prompt in prompts:
        with torch.inference_mode():
            rows = server.model.generate(
                input_ids=torch.tensor([prompt] * n),
                attention_mask=torch.ones(n, len(prompt), dtype=torch.long),
                max_new_tokens=body.get("max_tokens", 16),
                eos_token_id=server.tokenizer.eos_token_id,
                pad_token_id=server.tokenizer.pad_token_id,
                **sampling,
            )
        for row in rows[:, len(prompt) :].tolist():
            choices.append(_vllm_choice(server, prompt, row, body))
    for i, choice in enumerate(choices):
        choice["index"] = i
    return 200, {"id": "cmpl-stand-in", "model": "tiny", "choices": choices}


def _vllm_handler(server: VLLMServer) -> type:
    import json
    from http.server import BaseHTTPRequestHandler

    # Requests may arrive concurrently; one at a time keeps seeded sampling reproducible.
    lock = threading.Lock()
    routes_get = {
        "/health": {},
        "/v1/models": {"object": "list", "data": [{"id": "tiny", "object": "model"}]},
        "/get_world_size": {"world_size": 1},
    }
    routes_post_empty = ("/reset_prefix_cache", "/start_weight_update", "/finish_weight_update")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with lock:
                server.requests.append((self.path, {}))
            if self.path in routes_get:
                self._answer(200, routes_get[self.path])
            else:
                self._answer(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._answer(400, {"error": "body is not JSON"})
                return
            with lock:
                server.requests.append((self.path, body))
                if self.path in routes_post_empty:
                    status, payload = 200, {}
                elif self.path == "/v1/completions":
                    try:
                        status, payload = _vllm_completions(server, body)
                    except Exception as exc:  # a 5xx would make the client back off and retry
                        status, payload = 400, {"error": repr(exc)}
                else:
                    status, payload = 404, {"error": f"no route {self.path}"}
            self._answer(status, payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def vllm_server(tiny_model_dir: Path) -> Iterator[VLLMServer]:
    """A fresh stand-in vLLM server per test, serving its own copy of the tiny model.

    Usage: ``VLLMServerBackend(vllm_server.url, vllm_server.tokenizer)`` with
    ``trl.generation.vllm_client.is_vllm_available`` monkeypatched to return True.
    """
    from http.server import ThreadingHTTPServer

    from transformers import AutoModelForCausalLM, AutoTokenizer

    server = VLLMServer(
        url="",
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(),
        tokenizer=AutoTokenizer.from_pretrained(tiny_model_dir),
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _vllm_handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)
