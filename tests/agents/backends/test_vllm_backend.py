"""vLLM needs a GPU; what runs here is how its calls are made and its outputs mapped."""

import sys
from types import ModuleType, SimpleNamespace

from prmgym.agents.backends.vllm_backend import VLLMBackend, to_completion
from prmgym.generation import GenerationConfig


def sample(ids, finish_reason):
    logprobs = [{token: SimpleNamespace(logprob=-0.1 * (i + 1))} for i, token in enumerate(ids)]
    return SimpleNamespace(text="hi", token_ids=ids, logprobs=logprobs, finish_reason=finish_reason)


def test_trailing_eos_is_dropped_with_its_logprob():
    completion = to_completion(sample([5, 6, 2], "stop"), prompt_tokens=9, eos_ids={2})
    assert completion.token_ids == [5, 6]
    assert completion.logprobs == [-0.1, -0.2]
    assert (completion.finish_reason, completion.prompt_tokens) == ("stop", 9)


def test_length_finish_keeps_every_token():
    completion = to_completion(sample([5, 6, 7], "length"), prompt_tokens=3, eos_ids={2})
    assert completion.token_ids == [5, 6, 7] and len(completion.logprobs) == 3
    assert completion.finish_reason == "length"


class FakeLLM:
    """Stands in for ``vllm.LLM``: records each ``chat`` call and echoes the last message."""

    def __init__(self):
        self.calls = []

    def chat(self, messages, params, use_tqdm=True, **flags):
        self.calls.append((len(messages), flags))
        return [
            SimpleNamespace(
                prompt_token_ids=[0] * len(chat),
                outputs=[sample([5], "stop")] * params["n"],
                text=chat[-1]["content"],
            )
            for chat in messages
        ]

    def get_tokenizer(self):
        return SimpleNamespace(eos_token_id=2)


def fake_backend():
    backend = VLLMBackend.__new__(VLLMBackend)  # skips __init__, which needs vllm and a GPU
    backend.llm = FakeLLM()
    backend._vllm = SimpleNamespace(SamplingParams=lambda **kwargs: kwargs)
    return backend


USER = {"role": "user", "content": "q"}
PREFILL = {"role": "assistant", "content": "sea"}


def test_continued_and_new_turns_go_in_one_call_each_and_keep_their_order():
    backend = fake_backend()
    chats = [[USER, PREFILL], [USER], [USER, PREFILL, USER, PREFILL], [USER, PREFILL, USER]]
    outputs = backend._chat(chats, {"n": 1})
    assert [out.text for out in outputs] == ["sea", "q", "sea", "q"]
    assert backend.llm.calls == [
        (2, {}),
        (2, {"continue_final_message": True, "add_generation_prompt": False}),
    ]
    # prompt_tokens comes from each chat's own output, so the order reaches generate's results.
    results = backend.generate(chats, GenerationConfig(max_new_tokens=4, n=2))
    assert [[c.prompt_tokens for c in r] for r in results] == [[2, 2], [1, 1], [4, 4], [3, 3]]


def test_an_unmixed_batch_is_one_call():
    backend = fake_backend()
    backend.generate([[USER], [USER]], GenerationConfig(max_new_tokens=4))
    backend.generate([[USER, PREFILL]] * 3, GenerationConfig(max_new_tokens=4))
    assert backend.llm.calls == [
        (2, {}),
        (3, {"continue_final_message": True, "add_generation_prompt": False}),
    ]


def test_use_adapter_sends_each_saved_adapter_under_a_new_id(monkeypatch, tmp_path):
    lora = ModuleType("vllm.lora.request")
    lora.LoRARequest = lambda name, number, path: ("lora", name, number, path)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora)
    backend = fake_backend()
    backend.generate([[USER]], GenerationConfig(max_new_tokens=4))
    backend.use_adapter(tmp_path / "a")
    backend.generate([[USER], [USER, PREFILL]], GenerationConfig(max_new_tokens=4))
    # The same path saved again holds new weights: a new id makes vLLM load them.
    backend.use_adapter(tmp_path / "a")
    backend.generate([[USER]], GenerationConfig(max_new_tokens=4))
    backend.use_adapter(None)
    backend.generate([[USER]], GenerationConfig(max_new_tokens=4))
    first = ("lora", "policy-1", 1, str(tmp_path / "a"))
    second = ("lora", "policy-2", 2, str(tmp_path / "a"))
    assert [flags.get("lora_request") for _, flags in backend.llm.calls] == [
        None,
        first,
        first,
        second,
        None,
    ]
