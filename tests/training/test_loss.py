import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prmgym.training.loss import action_logprobs, ppo_clip_loss
from prmgym.training.samples import ActionSample

PROMPTS = [
    "search the index for the answer",
    "what is the capital of France?",
    "open the file",
    "the agent calls a tool, reads the result and answers the question",
    "run the tests",
]
ACTIONS = ['search("page")', "Paris", "edit one line and submit", 'answer("x")', "ok"]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture
def model(tiny_model_dir):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


@pytest.fixture(scope="module")
def samples(tokenizer):
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    return [
        ActionSample(encode(p), encode(a) + [tokenizer.eos_token_id], 1.0, i, 0)
        for i, (p, a) in enumerate(zip(PROMPTS, ACTIONS, strict=True))
    ]


def manual(model, sample):
    """Log-probs and entropies of one sample's action tokens from one unbatched forward pass."""
    ids = torch.tensor([sample.prompt_ids + sample.action_ids])
    with torch.no_grad():
        log_dist = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    start = len(sample.prompt_ids)
    rows = log_dist[start - 1 : start - 1 + len(sample.action_ids)]
    logprobs = rows.gather(-1, torch.tensor(sample.action_ids)[:, None]).squeeze(-1)
    return logprobs, -(rows.exp() * rows).sum(-1)


def test_batched_logprobs_and_entropies_equal_one_forward_per_sample(model, samples, tokenizer):
    with torch.no_grad():
        logprobs, entropies = action_logprobs(
            model, samples, batch_size=3, pad_id=tokenizer.pad_token_id, with_entropy=True
        )
    assert [len(x) for x in logprobs] == [len(s.action_ids) for s in samples]
    for sample, got, entropy in zip(samples, logprobs, entropies, strict=True):
        expected, expected_entropy = manual(model, sample)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(entropy, expected_entropy, atol=1e-5, rtol=0)


def test_a_shared_prompt_prefix_computed_once_gives_the_same_logprobs(model, tokenizer):
    # Prompts that share a long head (an agent's system prompt), then differ.
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    head = encode(" ".join(["You are an agent that searches documentation."] * 8))
    shared = [
        ActionSample(head + encode(p), encode(a) + [tokenizer.eos_token_id], 1.0, i, 0)
        for i, (p, a) in enumerate(zip(PROMPTS, ACTIONS, strict=True))
    ]
    pad = tokenizer.pad_token_id
    with torch.no_grad():
        plain, plain_entropy = action_logprobs(model, shared, pad_id=pad, with_entropy=True)
    cached, cached_entropy = action_logprobs(
        model, shared, pad_id=pad, with_entropy=True, shared_prefix=True
    )
    for a, b, c, d in zip(plain, cached, plain_entropy, cached_entropy, strict=True):
        torch.testing.assert_close(b.detach(), a, atol=1e-4, rtol=0)
        torch.testing.assert_close(d.detach(), c, atol=1e-4, rtol=0)
    # The gradient still reaches the weights through the tokens after the prefix.
    torch.cat(cached).sum().backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0


def test_entropies_are_left_out_unless_asked(model, samples, tokenizer):
    with torch.no_grad():
        _, entropies = action_logprobs(model, samples[:2], pad_id=tokenizer.pad_token_id)
    assert entropies is None


def one_step(model, samples, advantage, tokenizer):
    """One SGD step of the on-policy PPO loss; the mean action log-prob before and after."""
    pad = tokenizer.pad_token_id
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    logprobs, _ = action_logprobs(model, samples, pad_id=pad)
    old = [x.detach() for x in logprobs]
    loss, stats = ppo_clip_loss(logprobs, old, [advantage] * len(samples))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loss.backward()
    optimizer.step()
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    with torch.no_grad():
        after, _ = action_logprobs(model, samples, pad_id=pad)
    assert stats["ratio_mean"] == pytest.approx(1.0) and stats["clip_fraction"] == 0.0
    return torch.cat(old).mean(), torch.cat(after).mean(), changed


def test_a_positive_advantage_makes_the_actions_more_likely(model, samples, tokenizer):
    before, after, changed = one_step(model, samples, 1.0, tokenizer)
    assert changed and "lm_head.weight" in changed
    assert after > before


def test_a_negative_advantage_makes_the_actions_less_likely(model, samples, tokenizer):
    before, after, changed = one_step(model, samples, -1.0, tokenizer)
    assert changed
    assert after < before


def test_a_ratio_beyond_the_clip_range_gives_no_gradient():
    old = torch.log(torch.tensor([0.2, 0.2, 0.2]))
    # Ratios 1.5 (clipped for A > 0), 1.1 (inside) and 0.5 (below, but A > 0 is not clipped).
    logprobs = (old + torch.log(torch.tensor([1.5, 1.1, 0.5]))).requires_grad_()
    loss, stats = ppo_clip_loss([logprobs], [old], [2.0], clip_eps=0.2)
    loss.backward()
    assert logprobs.grad[0] == 0.0
    # d/dlogp of -(r * A) / n is -r * A / n.
    torch.testing.assert_close(logprobs.grad[1:], torch.tensor([-1.1 * 2 / 3, -0.5 * 2 / 3]))
    assert stats["clip_fraction"] == pytest.approx(1 / 3)
    assert stats["tokens"] == 3


def test_a_ratio_below_the_clip_range_gives_no_gradient_for_a_negative_advantage():
    old = torch.zeros(2)
    logprobs = torch.log(torch.tensor([0.5, 0.9])).requires_grad_()
    loss, stats = ppo_clip_loss([logprobs], [old], [-1.0], clip_eps=0.2)
    loss.backward()
    assert logprobs.grad[0] == 0.0 and logprobs.grad[1] != 0.0
    assert stats["clip_fraction"] == pytest.approx(0.5)


def test_the_kl_term_is_zero_at_the_reference_and_positive_away_from_it():
    logprobs = [torch.tensor([-1.0, -2.0]), torch.tensor([-0.5])]
    _, stats = ppo_clip_loss(logprobs, logprobs, [1.0, 1.0], ref_logprobs=logprobs, kl_coef=0.1)
    assert stats["kl"] == 0.0
    ref = [torch.tensor([-1.5, -2.0]), torch.tensor([-0.1])]
    loss, stats = ppo_clip_loss(logprobs, logprobs, [1.0, 1.0], ref_logprobs=ref, kl_coef=0.1)
    # k3 per token: exp(d) - d - 1 with d = ref - logp.
    expected = sum(math.exp(d) - d - 1 for d in (-0.5, 0.0, 0.4)) / 3
    assert stats["kl"] == pytest.approx(expected) and expected > 0
    assert stats["loss"] == pytest.approx(stats["policy_loss"] + 0.1 * expected)
    assert loss.item() == pytest.approx(stats["loss"])


def test_the_mean_is_per_token_so_a_long_action_weighs_more():
    long, short = torch.zeros(3, requires_grad=True), torch.zeros(1, requires_grad=True)
    loss, stats = ppo_clip_loss([long, short], [torch.zeros(3), torch.zeros(1)], [1.0, -1.0])
    # On-policy ratios are 1: -(3 * 1 + 1 * (-1)) / 4 tokens; a per-sample mean would give 0.
    assert loss.item() == pytest.approx(-0.5)
    loss.backward()
    torch.testing.assert_close(long.grad, torch.full((3,), -0.25))
    torch.testing.assert_close(short.grad, torch.tensor([0.25]))
    assert stats["tokens"] == 4 and stats["kl"] == 0.0


def test_bad_inputs_are_rejected():
    x = [torch.zeros(2)]
    with pytest.raises(ValueError, match="ref_logprobs"):
        ppo_clip_loss(x, x, [1.0], kl_coef=0.1)
    with pytest.raises(ValueError, match="lengths"):
        ppo_clip_loss(x, [torch.zeros(3)], [1.0])
    with pytest.raises(ValueError, match="advantages"):
        ppo_clip_loss(x, x, [1.0, 2.0])
    with pytest.raises(ValueError, match="no action tokens"):
        ppo_clip_loss([torch.zeros(0)], [torch.zeros(0)], [1.0])
