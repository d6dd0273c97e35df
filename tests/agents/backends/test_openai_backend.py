"""The OpenAI-compatible backend against a real HTTP server on loopback."""

import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from prmgym.agents.backends.openai_backend import OpenAIBackend
from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.errors import ProviderError
from prmgym.generation import GenerationConfig


def chat_server(model_dir, failures):
    """A chat-completions server answering with a real (tiny) model; fails on demand."""
    backend = TransformersBackend(model_dir)
    app = FastAPI()
    app.state.calls = 0

    @app.post("/v1/chat/completions")
    def complete(body: dict):
        app.state.calls += 1
        if failures:
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=failures.pop(0))
        config = GenerationConfig(
            max_new_tokens=body["max_tokens"],
            temperature=body["temperature"],
            n=body["n"],
            seed=body.get("seed"),
            stop=tuple(body.get("stop") or ()),
        )
        (completions,) = backend.generate([body["messages"]], config)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": {"content": [{"token": "?", "logprob": lp} for lp in c.logprobs]},
            }
            for i, c in enumerate(completions)
        ]
        return {"choices": choices, "usage": {"prompt_tokens": completions[0].prompt_tokens}}

    return app, backend


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    failures: list[int] = []
    app, backend = chat_server(tiny_model_dir, failures)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1", app, backend, failures
    srv.should_exit = True
    thread.join(timeout=10)


CHATS = [
    [{"role": "user", "content": "search the index"}],
    [{"role": "user", "content": "open the file"}],
]


def test_http_results_match_the_model(server):
    url, _, backend, _ = server
    config = GenerationConfig(max_new_tokens=6, temperature=0.0)
    remote = OpenAIBackend(url, "tiny").generate(CHATS, config)
    local = backend.generate(CHATS, config)
    assert [o[0].text for o in remote] == [o[0].text for o in local]
    for r, lo in zip(remote, local, strict=True):
        assert r[0].logprobs == pytest.approx(lo[0].logprobs, abs=1e-4)  # batch-shape float noise
    assert remote[0][0].prompt_tokens == local[0][0].prompt_tokens


def test_n_completions_per_chat(server):
    url, *_ = server
    outputs = OpenAIBackend(url, "tiny").generate(
        CHATS, GenerationConfig(max_new_tokens=4, n=3, seed=1)
    )
    assert [len(o) for o in outputs] == [3, 3]


def test_transient_errors_are_retried(server):
    url, app, _, failures = server
    failures.extend([503, 503])
    before = app.state.calls
    outputs = OpenAIBackend(url, "tiny", max_retries=2).generate(
        CHATS[:1], GenerationConfig(max_new_tokens=3)
    )
    assert len(outputs) == 1 and app.state.calls - before == 3


def test_permanent_errors_raise_with_the_servers_words(server):
    url, _, _, failures = server
    failures.append(400)
    with pytest.raises(ProviderError, match="answered 400.*overloaded"):
        OpenAIBackend(url, "tiny").generate(CHATS[:1], GenerationConfig(max_new_tokens=3))


def test_unreachable_server_raises_provider_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "x", max_retries=0, timeout=2)
    with pytest.raises(ProviderError, match="could not reach"):
        backend.generate(CHATS[:1], GenerationConfig(max_new_tokens=3))
