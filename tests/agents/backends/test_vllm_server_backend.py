"""The vLLM server backend against a loopback stand-in of vLLM's HTTP routes (``vllm_server``).

Greedy results are compared with the transformers backend on the same tiny model: the server
backend templates chats locally, so the server must see the very same prompt tokens.
"""

import copy
import math
import socket

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
from trl.generation import vllm_client

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.backends.vllm_server_backend import VLLMServerBackend, served_parameters
from prmgym.errors import ProviderError
from prmgym.generation import GenerationConfig

GREEDY = GenerationConfig(max_new_tokens=12, temperature=0.0)
ENDS_AT_ONCE = [{"role": "user", "content": "answer the question"}]  # greedy: eos first
ENDS_EARLY = [{"role": "user", "content": "read the page"}]  # greedy: 7 tokens, then eos
RUNS_ON = [{"role": "user", "content": "search the index"}]  # greedy: no eos in 40 tokens
CONTINUED = [{"role": "user", "content": "open the file"}, {"role": "assistant", "content": "the"}]
CHATS = [RUNS_ON, CONTINUED, ENDS_EARLY, ENDS_AT_ONCE]


@pytest.fixture
def backend(vllm_server, monkeypatch):
    monkeypatch.setattr(vllm_client, "is_vllm_available", lambda *args, **kwargs: True)
    return VLLMServerBackend(vllm_server.url, vllm_server.tokenizer)


@pytest.fixture(scope="module")
def local(tiny_model_dir):
    return TransformersBackend(tiny_model_dir)


def completions_requests(server):
    return [body for path, body in server.requests if path == "/v1/completions"]


def test_greedy_completions_equal_the_transformers_backends(backend, local, vllm_server):
    remote = backend.generate(CHATS, GREEDY)
    want = local.generate(CHATS, GREEDY)
    assert backend.name == "vllm-server:tiny"
    for got, expected in zip(remote, want, strict=True):
        (g,), (w,) = got, expected
        assert (g.token_ids, g.text, g.finish_reason) == (w.token_ids, w.text, w.finish_reason)
        assert g.prompt_tokens == w.prompt_tokens
        assert g.logprobs == pytest.approx(w.logprobs, abs=1e-4)
    # The continuation differs from a new turn after the same user message.
    assert remote[1][0].text != backend.generate([CONTINUED[:1]], GREEDY)[0][0].text
    # The server got token ids templated here, one request for the whole batch.
    assert completions_requests(vllm_server)[0]["prompt"] == local._prompt_ids(CHATS)


def test_trailing_eos_is_dropped_with_its_logprob(backend, local):
    prompts = backend._prompt_ids([ENDS_EARLY, ENDS_AT_ONCE])
    raw = backend.client.generate(prompts, temperature=0.0, max_tokens=12, logprobs=0)
    eos = backend.tokenizer.eos_token_id
    assert [ids[-1] for ids in raw["completion_ids"]] == [eos, eos]
    early, at_once = (c for (c,) in backend.generate([ENDS_EARLY, ENDS_AT_ONCE], GREEDY))
    assert early.token_ids == raw["completion_ids"][0][:-1] and len(early.token_ids) == 7
    assert early.logprobs == [step[0] for step in raw["logprobs"][0][:-1]]
    assert (at_once.token_ids, at_once.logprobs, at_once.text) == ([], [], "")
    assert early.finish_reason == at_once.finish_reason == "stop"


def test_sampled_logprobs_are_the_models_own(backend, vllm_server):
    config = GenerationConfig(max_new_tokens=8, temperature=1.5, seed=3)
    (completion,) = backend.generate([RUNS_ON], config)[0]
    prompt = backend._prompt_ids([RUNS_ON])[0]
    with torch.inference_mode():
        logits = vllm_server.model(torch.tensor([prompt + completion.token_ids])).logits[0]
    steps = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
    own = steps.gather(1, torch.tensor(completion.token_ids)[:, None]).squeeze(1).tolist()
    assert len(completion.token_ids) == 8
    assert completion.logprobs == pytest.approx(own, abs=1e-4)
    # At this temperature some sampled token is not the greedy one.
    assert any(steps[t].argmax() != token for t, token in enumerate(completion.token_ids))


def test_n_samples_per_chat_come_back_grouped_per_chat(backend, local, vllm_server):
    sampled = backend.generate(CHATS[:3], GenerationConfig(max_new_tokens=5, n=3, seed=1))
    assert [len(row) for row in sampled] == [3, 3, 3]
    assert all(len(c.logprobs) == len(c.token_ids) for row in sampled for c in row)
    (body,) = completions_requests(vllm_server)
    assert (body["n"], body["seed"], body["temperature"], body["max_tokens"]) == (3, 1, 0.8, 5)
    # Greedy samples are all the chat's greedy completion: grouping follows the chats' order.
    greedy = backend.generate(CHATS, GenerationConfig(max_new_tokens=6, temperature=0.0, n=2))
    want = local.generate(CHATS, GenerationConfig(max_new_tokens=6, temperature=0.0))
    assert [[c.token_ids for c in row] for row in greedy] == [[w[0].token_ids] * 2 for w in want]


def test_stop_strings_cut_the_text(backend, local, vllm_server):
    full = backend.generate([RUNS_ON], GREEDY)[0][0].text
    stop = full[4:7]
    config = GenerationConfig(max_new_tokens=12, temperature=0.0, stop=(stop, "never seen"))
    (got,) = backend.generate([RUNS_ON], config)[0]
    (want,) = local.generate([RUNS_ON], config)[0]
    assert got.text == full[: full.index(stop)] == want.text
    assert got.token_ids == want.token_ids and len(got.token_ids) < 12
    assert got.finish_reason == "stop"
    assert [body.get("stop") for body in completions_requests(vllm_server)] == [
        None,
        [stop, "never seen"],
    ]


def test_running_out_of_tokens_is_length(backend):
    config = GenerationConfig(max_new_tokens=3, temperature=0.0)
    (completion,) = backend.generate([RUNS_ON], config)[0]
    assert completion.finish_reason == "length" and len(completion.token_ids) == 3


def test_choice_logprobs_match_the_transformers_backends(backend, local):
    chats = [RUNS_ON, CONTINUED, ENDS_EARLY]
    top20 = [set(row.topk(20).indices.tolist()) for row in local._next_token_logprobs(chats)]
    tokenizer = local.tokenizer
    spellings = {i: tokenizer.decode([i]).strip().lower() for i in range(len(tokenizer))}

    def tokens(word):
        return {i for i, text in spellings.items() if text == word}

    words = sorted({spellings[i] for top in top20 for i in top} - {""}) + ["search"]
    got = backend.choice_logprobs(chats, words)
    want = local.choice_logprobs(chats, words)
    checked = {"reported": 0, "unreported": 0}
    for g, w, top in zip(got, want, top20, strict=True):
        for word, g_value, w_value in zip(words, g, w, strict=True):
            # The server reports its top 20 tokens: a word is exact when all its tokens are
            # among them, and unseen when none is.
            if tokens(word) <= top:
                assert g_value == pytest.approx(w_value, abs=1e-4), word
                checked["reported"] += 1
            elif not tokens(word) & top:
                assert g_value == -math.inf and math.isfinite(w_value), word
                checked["unreported"] += 1
    assert checked["reported"] >= 20 and checked["unreported"] >= 10
    assert backend.choice_logprobs([], words) == []


def test_an_unreachable_server_says_how_to_start_one(monkeypatch):
    monkeypatch.setattr(vllm_client, "is_vllm_available", lambda *args, **kwargs: True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderError, match=r"can't be reached at .*vllm serve"):
        VLLMServerBackend(f"http://127.0.0.1:{port}", "unused")


def test_missing_vllm_says_how_to_install(vllm_server):
    with pytest.raises(ProviderError, match=r"pip install 'prmgym\[vllm\]'"):
        VLLMServerBackend(vllm_server.url, vllm_server.tokenizer)


def lora_policy(tiny_model_dir):
    """A LoRA policy whose adapter (and trained lm_head copy) changes greedy generation."""
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"])
    policy = get_peft_model(base, config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                param.add_(torch.randn(param.shape, generator=generator) * 0.5)
    return policy


def test_served_parameters_of_a_lora_model_are_the_merged_base_weights(tiny_model_dir):
    policy = lora_policy(tiny_model_dir)
    merged = copy.deepcopy(policy).merge_and_unload()
    ids = torch.tensor([[5, 9, 14, 20]])
    with torch.no_grad():
        before = policy(ids).logits
    with served_parameters(policy) as params:
        served = {name: tensor.clone() for name, tensor in params}
    assert list(served) == list(merged.state_dict())
    for name, tensor in merged.state_dict().items():
        assert torch.allclose(served[name], tensor, atol=1e-6), name
    # The adapter mattered, and the policy is back to its unmerged self.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not torch.allclose(served["lm_head.weight"], base.lm_head.weight)
    assert any("base_layer" in name for name, _ in policy.named_parameters())
    with torch.no_grad():
        assert torch.allclose(policy(ids).logits, before, atol=1e-5)


def test_served_parameters_of_a_plain_model_are_its_own(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with served_parameters(model) as params:
        assert [name for name, _ in params] == list(model.state_dict())
        pairs = zip(params, model.parameters(), strict=True)
        assert all(t.data_ptr() == p.data_ptr() for (_, t), p in pairs)


def test_sync_weights_makes_the_server_generate_like_the_trained_policy(
    backend, vllm_server, tiny_model_dir, monkeypatch
):
    policy = lora_policy(tiny_model_dir)
    trained = TransformersBackend(tiny_model_dir, prefix_cache=False)
    trained.model = policy
    chats = [RUNS_ON, CONTINUED]
    before = backend.generate(chats, GREEDY)

    devices, pushed = [], []

    def init_communicator(device):
        devices.append(device)

    def update_named_params(metadata, named_params):
        state = {name: tensor.clone() for name, tensor in named_params}
        assert [(name, dtype, shape) for name, dtype, shape in metadata] == [
            (name, "float32", list(t.shape)) for name, t in state.items()
        ]
        vllm_server.model.load_state_dict(state, strict=True)
        pushed.append(len(vllm_server.requests))

    monkeypatch.setattr(backend.client, "init_communicator", init_communicator)
    monkeypatch.setattr(backend.client, "update_named_params", update_named_params)
    backend.sync_weights(policy)

    after = backend.generate(chats, GREEDY)
    want = trained.generate(chats, GREEDY)
    assert [c[0].token_ids for c in after] == [w[0].token_ids for w in want]
    assert [c[0].text for c in after] == [w[0].text for w in want]
    assert [c[0].token_ids for c in after] != [b[0].token_ids for b in before]
    # The prefix cache is reset after the weights landed, not before.
    (reset,) = [
        i for i, (path, _) in enumerate(vllm_server.requests) if path == "/reset_prefix_cache"
    ]
    assert reset >= pushed[0]
    # The policy is unmerged again, and a second sync reuses the NCCL group.
    again = trained.generate(chats, GREEDY)
    assert [c[0].token_ids for c in again] == [w[0].token_ids for w in want]
    backend.sync_weights(policy)
    assert devices == [torch.device("cpu")] and len(pushed) == 2

    closed = []
    monkeypatch.setattr(backend.client, "close_communicator", lambda: closed.append(True))
    backend.close()
    backend.close()
    assert closed == [True]


def test_sync_weights_from_a_cpu_model_says_it_needs_cuda(backend, tiny_model_dir, monkeypatch):
    # Without vllm the client lacks get_ip; with it, TRL's own device check is what refuses.
    monkeypatch.setattr(vllm_client, "get_ip", lambda: "127.0.0.1", raising=False)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ProviderError, match="needs the trainer's model on a CUDA device") as info:
        backend.sync_weights(model)
    assert isinstance(info.value.__cause__, NotImplementedError)
