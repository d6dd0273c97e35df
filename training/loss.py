"""The policy loss: token-level PPO-clip on action tokens, with an optional KL to a reference.

Only action tokens carry loss: the prompt (system prompt, observations, earlier turns) is
context the policy did not write. Per-token log-probs come from :func:`action_logprobs`, once
without grad before the update (the old policy; and the reference, see
:func:`~prmgym.training.policy_model.reference_logprobs`) and once with grad per minibatch; the
lists of ragged 1-D tensors it returns go straight into :func:`ppo_clip_loss`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from prmgym.agents.backends.transformers_backend import shared_prefix_length
from prmgym.training.samples import ActionSample, right_padded


def action_logprobs(
    model: torch.nn.Module,
    samples: Sequence[ActionSample],
    *,
    batch_size: int = 8,
    pad_id: int,
    with_entropy: bool = False,
    shared_prefix: bool = False,
) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Log-probs of every action token of every sample under ``model``.

    Samples are batched ``batch_size`` at a time, right-padded with an attention mask (real
    tokens keep their unbatched positions, so batching does not change the values). Logits are
    computed only at the positions that predict some row's action tokens (``logits_to_keep``):
    the vocabulary projection of a long agent prompt would otherwise dominate memory.
    Gradients flow when called under grad; wrap the call in ``torch.no_grad()`` for old or
    reference log-probs.

    Args:
        model: A causal LM (transformers ``PreTrainedModel`` or a peft model around one) whose
            forward takes ``logits_to_keep``.
        samples: The action samples; each needs at least one prompt and one action token.
        batch_size: Samples per forward pass.
        pad_id: Token id used as padding (masked out, never read).
        with_entropy: Also return the entropy of the full next-token distribution at each
            action token (for an entropy bonus or monitoring).
        shared_prefix: Compute the prompt prefix all samples of a batch share (an agent's
            system prompt and worked examples: most of its tokens) once, without gradient, and
            run only the rest with it as a key/value cache. The log-probs are the same; the
            gradient flows only through the tokens after the prefix (the LoRA still adapts
            every layer on them). Several times faster on CPU for long agent prompts.

    Returns:
        Per sample, a 1-D float32 tensor with one log-prob per action token, and the entropies
        in the same shape when ``with_entropy`` (else None). Tensors are on the model's device.

    Raises:
        ValueError: ``batch_size`` is below 1, or a sample has no prompt or no action tokens.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for sample in samples:
        if not sample.prompt_ids or not sample.action_ids:
            raise ValueError(
                f"sample of episode {sample.episode} step {sample.step} has "
                f"{len(sample.prompt_ids)} prompt and {len(sample.action_ids)} action tokens; "
                "each needs at least one of both (the first action token is predicted from the "
                "prompt)"
            )
    device = next(model.parameters()).device
    logprobs: list[torch.Tensor] = []
    entropies: list[torch.Tensor] | None = [] if with_entropy else None
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        shared = shared_prefix_length([s.prompt_ids for s in chunk]) if shared_prefix else 0
        rows = [
            (
                s.prompt_ids[shared:] + s.action_ids,
                [False] * (len(s.prompt_ids) - shared) + [True] * len(s.action_ids),
            )
            for s in chunk
        ]
        input_ids, attention, actions = (t.to(device) for t in right_padded(rows, pad_id))
        # The logits at column j predict token j + 1.
        predicts_action = actions[:, 1:]
        columns = predicts_action.any(dim=0).nonzero().squeeze(-1)
        extra: dict[str, object] = {}
        if shared:
            with torch.no_grad():
                head = torch.tensor([chunk[0].prompt_ids[:shared]], device=device)
                cache = model(input_ids=head, use_cache=True).past_key_values
            cache.batch_repeat_interleave(len(chunk))
            width = input_ids.shape[1]
            extra = {
                "past_key_values": cache,
                "use_cache": True,
                "position_ids": torch.arange(shared, shared + width, device=device).expand(
                    len(chunk), width
                ),
            }
            attention = torch.cat([attention.new_ones(len(chunk), shared), attention], dim=1)
        logits = model(
            input_ids=input_ids, attention_mask=attention, logits_to_keep=columns, **extra
        ).logits
        log_dist = torch.log_softmax(logits.float(), dim=-1)
        chosen = log_dist.gather(-1, input_ids[:, columns + 1].unsqueeze(-1)).squeeze(-1)
        wanted = predicts_action[:, columns]
        logprobs.extend(chosen[row][wanted[row]] for row in range(len(chunk)))
        if entropies is not None:
            entropy = -(log_dist.exp() * log_dist).sum(dim=-1)
            entropies.extend(entropy[row][wanted[row]] for row in range(len(chunk)))
    return logprobs, entropies


def _flat(name: str, tensors: Sequence[torch.Tensor], lengths: list[int]) -> torch.Tensor:
    found = [len(t) for t in tensors]
    if found != lengths:
        raise ValueError(
            f"{name} has per-sample lengths {found}, but logprobs has {lengths}; compute both "
            "with action_logprobs on the same samples"
        )
    return torch.cat(list(tensors))


def ppo_clip_loss(
    logprobs: Sequence[torch.Tensor],
    old_logprobs: Sequence[torch.Tensor],
    advantages: Sequence[float] | torch.Tensor,
    *,
    clip_eps: float = 0.2,
    ref_logprobs: Sequence[torch.Tensor] | None = None,
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Token-level PPO-clip loss over all action tokens, plus an optional k3 KL penalty.

    Each token j of sample i has the ratio r = exp(log pi(a_j) - log pi_old(a_j)) and carries
    its sample's advantage A_i. The policy loss is PPO's clipped surrogate (Schulman et al.
    2017, arXiv 1707.06347, Eq. 7), negated for minimisation,

        L_clip = -mean_tokens min(r * A, clip(r, 1 - eps, 1 + eps) * A),

    averaged over all tokens of all samples at once (DAPO's token-level policy gradient loss,
    arXiv 2503.14476, Sec. 3.3: the 1 / sum_i |o_i| of its objective): a long action weighs in
    proportion to its length instead of every sample weighing the same. The KL penalty to the
    reference uses the k3 estimator (Schulman 2020, "Approximating KL Divergence"), with
    d = log pi_ref - log pi,

        KL = mean_tokens exp(d) - d - 1,

    which is unbiased for KL(pi || pi_ref) on tokens sampled from pi, never negative, and 0
    where the two agree.
    ``loss = L_clip + kl_coef * KL``.

    Args:
        logprobs: Per sample, the action tokens' log-probs under the policy being trained
            (with grad), from :func:`action_logprobs`.
        old_logprobs: The same under the policy that collected the samples (no grad needed).
        advantages: One advantage per sample.
        clip_eps: Clip range eps of the ratio.
        ref_logprobs: The same under the reference policy; needed when ``kl_coef > 0``, and
            reported as ``kl`` whenever given.
        kl_coef: Weight of the KL penalty.

    Returns:
        The scalar loss and floats for logging: ``loss``, ``policy_loss``, ``kl`` (0 without
        a reference), ``clip_fraction`` (share of tokens whose gradient the clip removed: ratio
        above 1 + eps with A > 0 or below 1 - eps with A < 0), ``ratio_mean``, ``approx_kl``
        (k3 estimate of KL(pi_old || pi), to watch how far an update moved) and ``tokens``.

    Raises:
        ValueError: Lengths disagree, there are no action tokens, ``clip_eps`` is not positive,
            ``kl_coef`` is negative, or ``kl_coef > 0`` without ``ref_logprobs``.
    """
    if clip_eps <= 0:
        raise ValueError(f"clip_eps must be positive, got {clip_eps}")
    if kl_coef < 0:
        raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
    if kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs; pass them or set kl_coef=0")
    if len(advantages) != len(logprobs):
        raise ValueError(f"got {len(advantages)} advantages for {len(logprobs)} samples")
    lengths = [len(t) for t in logprobs]
    if sum(lengths) == 0:
        raise ValueError("no action tokens to train on")
    logp = torch.cat(list(logprobs))
    old = _flat("old_logprobs", old_logprobs, lengths).to(logp).detach()
    per_sample = torch.as_tensor(advantages).detach().to(logp)
    adv = per_sample.repeat_interleave(torch.tensor(lengths, device=logp.device))
    log_ratio = logp - old
    ratio = log_ratio.exp()
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    policy_loss = -surrogate.mean()
    kl = logp.new_zeros(())
    if ref_logprobs is not None:
        delta = _flat("ref_logprobs", ref_logprobs, lengths).to(logp).detach() - logp
        kl = (delta.exp() - delta - 1).mean()
    loss = policy_loss + kl_coef * kl if kl_coef > 0 else policy_loss
    with torch.no_grad():
        clipped = ((ratio > 1 + clip_eps) & (adv > 0)) | ((ratio < 1 - clip_eps) & (adv < 0))
        stats = {
            "loss": float(loss),
            "policy_loss": float(policy_loss),
            "kl": float(kl),
            "clip_fraction": float(clipped.float().mean()),
            "ratio_mean": float(ratio.mean()),
            "approx_kl": float(((ratio - 1) - log_ratio).mean()),
            "tokens": float(len(logp)),
        }
    return loss, stats
