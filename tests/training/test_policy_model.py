import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.errors import ConfigError
from prmgym.generation import GenerationConfig
from prmgym.training.loss import action_logprobs, ppo_clip_loss
from prmgym.training.policy_model import LoraSettings, load_policy_model, reference_logprobs
from prmgym.training.samples import ActionSample

SYSTEM = "You answer questions with tools: search the index for the answer, then read the page."
# The chats share a prefix long enough for the backend's prefix cache (32 tokens or more).
CHATS = [
    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    for question in ("what is pprint?", "which module reads json?")
]


def prompt_ids(tokenizer, chat):
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.fixture
def samples(tiny_model_dir):
    tokenizer = TransformersBackend(tiny_model_dir).tokenizer
    action = tokenizer('search("json")', add_special_tokens=False)["input_ids"]
    return [
        ActionSample(prompt_ids(tokenizer, chat), action + [tokenizer.eos_token_id], 1.0, i, 0)
        for i, chat in enumerate(CHATS)
    ]


def adam_step(backend, samples, lr=1e-2):
    model, pad = backend.model, backend.tokenizer.pad_token_id
    logprobs, _ = action_logprobs(model, samples, pad_id=pad)
    loss, _ = ppo_clip_loss(logprobs, [x.detach() for x in logprobs], [1.0] * len(samples))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def test_lora_leaves_only_the_adapter_trainable(tiny_model_dir):
    backend = load_policy_model(tiny_model_dir, lora=LoraSettings(r=4, alpha=8))
    assert isinstance(backend.model, PeftModel)
    trainable = [n for n, p in backend.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any("q_proj" in n for n in trainable) and any("v_proj" in n for n in trainable)


def test_full_fine_tuning_trains_every_weight_and_has_no_free_reference(tiny_model_dir, samples):
    backend = load_policy_model(tiny_model_dir, lora=None)
    assert all(p.requires_grad for p in backend.model.parameters())
    with pytest.raises(ConfigError, match="kl_coef"):
        reference_logprobs(backend, samples)


def test_the_reference_is_the_base_model_before_and_after_an_update(tiny_model_dir, samples):
    backend = load_policy_model(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    pad = backend.tokenizer.pad_token_id
    with torch.no_grad():
        expected, _ = action_logprobs(base, samples, pad_id=pad)
        policy_before, _ = action_logprobs(backend.model, samples, pad_id=pad)
    before = reference_logprobs(backend, samples)
    for ref, base_lp, policy_lp in zip(before, expected, policy_before, strict=True):
        # LoRA starts at zero: policy, reference and base all agree.
        torch.testing.assert_close(ref, base_lp, atol=1e-5, rtol=0)
        torch.testing.assert_close(policy_lp, base_lp, atol=1e-5, rtol=0)
    adam_step(backend, samples)
    after = reference_logprobs(backend.model, samples, pad_id=pad)
    with torch.no_grad():
        policy_after, _ = action_logprobs(backend.model, samples, pad_id=pad)
    for ref, base_lp, policy_lp in zip(after, expected, policy_after, strict=True):
        torch.testing.assert_close(ref, base_lp, atol=1e-5, rtol=0)
        assert (policy_lp - base_lp).abs().max() > 1e-3


@pytest.mark.parametrize(
    ("lora", "lr"), [(LoraSettings(), 5e-2), (None, 2e-3)], ids=["lora", "full"]
)
def test_generation_follows_the_updated_weights(tiny_model_dir, samples, lora, lr):
    backend = load_policy_model(tiny_model_dir, lora=lora)
    shared = TransformersBackend(tiny_model_dir).model
    shared_before = {n: p.clone() for n, p in shared.state_dict().items()}
    config = GenerationConfig(max_new_tokens=4, temperature=0.0)
    # Two chats sharing a long prefix: the prefix cache is filled here with the old weights.
    first = backend.generate(CHATS, config)
    adam_step(backend, samples, lr=lr)
    backend.forget_cached_prefixes()
    second = backend.generate(CHATS, config)
    pad = backend.tokenizer.pad_token_id
    for chat, (old,), (new,) in zip(CHATS, first, second, strict=True):
        sample = ActionSample(prompt_ids(backend.tokenizer, chat), new.token_ids, 0.0, 0, 0)
        with torch.no_grad():
            (now,), _ = action_logprobs(backend.model, [sample], pad_id=pad)
        # The log-probs generation reported are those of the updated model...
        torch.testing.assert_close(torch.tensor(new.logprobs), now, atol=1e-4, rtol=0)
        # ...which the update changed.
        if old.token_ids == new.token_ids:
            assert max(abs(a - b) for a, b in zip(old.logprobs, new.logprobs, strict=True)) > 1e-3
    # Other backends of the same model keep their weights.
    for name, value in shared.state_dict().items():
        assert torch.equal(value, shared_before[name]), name


def test_lora_settings_say_how_to_fix_bad_values():
    with pytest.raises(ConfigError, match="rank"):
        LoraSettings(r=0)
    with pytest.raises(ConfigError, match="alpha"):
        LoraSettings(alpha=0)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        LoraSettings(dropout=1.0)
    with pytest.raises(ConfigError, match="list of module names"):
        LoraSettings(target_modules="q_proj")
    assert LoraSettings(target_modules=["q_proj"]).target_modules == ("q_proj",)


def test_lora_on_modules_the_model_lacks_is_a_config_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="target_modules"):
        load_policy_model(tiny_model_dir, lora=LoraSettings(target_modules=("no_such_proj",)))
