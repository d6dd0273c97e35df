"""The OpenAI-compatible backend against a real HTTP server on loopback."""

import math
import socket

import pytest

from prmgym.agents.backends.openai_backend import OpenAIBackend
from prmgym.errors import ProviderError
from prmgym.generation import GenerationConfig, choice_logprobs_from_top

CHATS = [
    [{"role": "user", "content": "search the index"}],
    [{"role": "user", "content": "open the file"}],
]


def test_http_results_match_the_model(chat_completions_server):
    backend = chat_completions_server.backend
    config = GenerationConfig(max_new_tokens=6, temperature=0.0)
    remote = OpenAIBackend(chat_completions_server.url, "tiny").generate(CHATS, config)
    local = backend.generate(CHATS, config)
    assert [o[0].text for o in remote] == [o[0].text for o in local]
    for r, lo in zip(remote, local, strict=True):
        assert r[0].logprobs == pytest.approx(lo[0].logprobs, abs=1e-4)  # batch-shape float noise
    assert remote[0][0].prompt_tokens == local[0][0].prompt_tokens


def test_n_completions_per_chat(chat_completions_server):
    outputs = OpenAIBackend(chat_completions_server.url, "tiny").generate(
        CHATS, GenerationConfig(max_new_tokens=4, n=3, seed=1)
    )
    assert [len(o) for o in outputs] == [3, 3]


def test_transient_errors_are_retried(chat_completions_server):
    chat_completions_server.failures.extend([503, 503])
    before = chat_completions_server.calls
    backend = OpenAIBackend(chat_completions_server.url, "tiny", retry_backoff_s=0.01)
    outputs = backend.generate(CHATS[:1], GenerationConfig(max_new_tokens=3))
    assert len(outputs) == 1 and chat_completions_server.calls - before == 3


def test_permanent_errors_raise_with_the_servers_words(chat_completions_server):
    chat_completions_server.failures.append(400)
    with pytest.raises(ProviderError, match="answered 400.*overloaded"):
        OpenAIBackend(chat_completions_server.url, "tiny").generate(
            CHATS[:1], GenerationConfig(max_new_tokens=3)
        )


def test_unreachable_server_raises_provider_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "x", max_retries=0, timeout=2)
    with pytest.raises(ProviderError, match="could not reach"):
        backend.generate(CHATS[:1], GenerationConfig(max_new_tokens=3))


CHOICE_CHATS = [
    *CHATS,
    [
        {"role": "system", "content": "you are a helpful assistant"},
        {"role": "user", "content": "what is the capital of France?"},
    ],
]
# Words whose every token is among the tiny model's 20 likeliest first tokens for CHOICE_CHATS,
# and one whose tokens all lie outside them.
TOP_WORDS = ("open", "for", "too")
RARE_WORD = "search"


def _word_tokens(tokenizer, word):
    return {i for i in range(len(tokenizer)) if tokenizer.decode([i]).strip().lower() == word}


def test_choice_logprobs_over_http_match_the_local_model(chat_completions_server):
    local = chat_completions_server.backend
    top20 = [set(row.topk(20).indices.tolist()) for row in local._next_token_logprobs(CHOICE_CHATS)]
    for word in TOP_WORDS:
        assert all(_word_tokens(local.tokenizer, word) <= top for top in top20), word
    assert not any(_word_tokens(local.tokenizer, RARE_WORD) & top for top in top20)

    choices = (*TOP_WORDS, RARE_WORD)
    remote = OpenAIBackend(chat_completions_server.url, "tiny").choice_logprobs(
        CHOICE_CHATS, choices
    )
    expected = local.choice_logprobs(CHOICE_CHATS, choices)
    for got, want in zip(remote, expected, strict=True):
        assert got[:3] == pytest.approx(want[:3], abs=1e-4)
        # The server reports only its top 20 tokens; the local model sees the whole vocabulary.
        assert got[3] == -math.inf and math.isfinite(want[3])


def test_choice_logprobs_retry_and_fail_like_generate(chat_completions_server):
    backend = OpenAIBackend(chat_completions_server.url, "tiny", retry_backoff_s=0.01)
    chat_completions_server.failures.append(503)
    assert len(backend.choice_logprobs(CHATS[:1], ("open",))) == 1
    chat_completions_server.failures.append(400)
    with pytest.raises(ProviderError, match="answered 400"):
        backend.choice_logprobs(CHATS[:1], ("open",))
    assert backend.choice_logprobs([], ("open",)) == []


def test_a_server_without_top_logprobs_raises_provider_error(monkeypatch):
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "x")
    answer = {"choices": [{"message": {"content": "yes"}, "logprobs": None}]}
    monkeypatch.setattr(backend, "_post", lambda body: answer)
    with pytest.raises(ProviderError, match="no top log-probs"):
        backend.choice_logprobs(CHATS[:1], ("yes",))


def test_top_tokens_map_to_choices_by_stripped_lowercase_text():
    top = [(" Yes", math.log(0.5)), ("yes", math.log(0.2)), ("YES\n", math.log(0.1)), ("No", -3.0)]
    yes, no, maybe, yesterday = choice_logprobs_from_top(top, ["yes", "NO", "maybe", "yesterday"])
    assert yes == pytest.approx(math.log(0.8))
    assert no == -3.0
    assert maybe == yesterday == -math.inf
    # Each entry is a distinct token, so two with the same text both count.
    assert choice_logprobs_from_top([("a", -1.0), ("a", -1.0)], ["a"]) == [
        pytest.approx(math.log(2 * math.exp(-1.0)))
    ]


def test_a_final_assistant_message_is_continued_over_http(chat_completions_server):
    local = chat_completions_server.backend
    config = GenerationConfig(max_new_tokens=6, temperature=0.0)
    continued = [[*chat, {"role": "assistant", "content": "search the"}] for chat in CHATS]
    remote = OpenAIBackend(chat_completions_server.url, "tiny").generate(
        [*continued, CHATS[0]], config
    )
    want = local.generate([*continued, CHATS[0]], config)
    assert [o[0].text for o in remote] == [o[0].text for o in want]
    assert [o[0].prompt_tokens for o in remote] == [o[0].prompt_tokens for o in want]
    for r, w in zip(remote, want, strict=True):
        assert r[0].logprobs == pytest.approx(w[0].logprobs, abs=1e-4)
    # The continuation is new text, not a reply in a new turn.
    assert remote[0][0].text != local.generate(CHATS[:1], config)[0][0].text


def test_choice_logprobs_read_the_token_after_a_continued_message(chat_completions_server):
    local = chat_completions_server.backend
    chats = [[*chat, {"role": "assistant", "content": "search the"}] for chat in CHATS]
    # Words whose every token is among the 20 likeliest next tokens: the server reports those.
    top20 = [set(row.topk(20).indices.tolist()) for row in local._next_token_logprobs(chats)]
    words = {local.tokenizer.decode([i]).strip().lower() for i in set.intersection(*top20)}
    words = sorted(
        w for w in words if w and all(_word_tokens(local.tokenizer, w) <= top for top in top20)
    )
    assert words
    remote = OpenAIBackend(chat_completions_server.url, "tiny").choice_logprobs(chats, words)
    assert remote == [pytest.approx(row, abs=1e-4) for row in local.choice_logprobs(chats, words)]
    # Read after the prefill, not at the start of a new reply.
    assert remote != local.choice_logprobs(CHATS, words)
