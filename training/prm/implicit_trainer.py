"""Train PRIME's implicit PRM (arXiv 2502.01456) with a short LoRA loop.

PRIME's objective is a cross-entropy on outcome labels (PRIME Eq. 4):

    L = -[y log sigmoid(beta * log pi_phi(a) / pi_ref(a)) + (1 - y) log(1 - sigmoid(...))]

where a is all action tokens of the trajectory and y its outcome. pi_phi is the base model
plus a LoRA adapter (zero-initialised, so training starts at pi_phi = pi_ref) and pi_ref is the
base with the adapter disabled; the reference log-probs are computed once before training
since they never change. Here a row's outcome is the label of its last kept step: 1 for a
trajectory whose labelled steps are all good, 0 for one cut at its first error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from prmgym.rewards.learned.implicit import (
    ADAPTER_DIR,
    BASE_DIR,
    encode_actions,
    token_log_probs,
)
from prmgym.rewards.render import RenderedTrajectory
from prmgym.training.prm.config import TrainPRMConfig
from prmgym.training.prm.record import write_training_record
from prmgym.training.samples import right_padded

DEFAULT_IMPLICIT_RANK = 8
"""LoRA rank of the implicit PRM when the config leaves ``lora_rank`` at 0."""


def action_token_example(
    tokenizer: PreTrainedTokenizerBase, row: dict[str, Any], max_length: int
) -> tuple[list[int], list[bool]]:
    """Token ids of a TRL PRM row (with ``actions``) and a mask of its action tokens.

    Rows longer than ``max_length`` lose tokens from the left after the bos token.
    """
    rendered = RenderedTrajectory(row["prompt"], list(row["completions"]))
    encoded = encode_actions(tokenizer, rendered, row["actions"])
    mask = [False] * len(encoded.input_ids)
    for start, end in encoded.spans:
        mask[start:end] = [True] * (end - start)
    ids = encoded.input_ids
    if len(ids) > max_length:
        keep, tail = encoded.prefix_tokens, max_length - encoded.prefix_tokens
        ids = ids[:keep] + ids[-tail:]
        mask = [False] * keep + mask[-tail:]
    # The first token has no log-prob (nothing precedes it).
    mask[0] = False
    return ids, mask


def action_log_prob(model: Any, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Sum of log-probs of each row's action tokens, shape ``(batch,)``."""
    input_ids, attention, actions = batch
    logits = model(input_ids=input_ids, attention_mask=attention).logits
    return (token_log_probs(logits, input_ids) * actions[:, 1:]).sum(dim=-1)


def implicit_prm_loss(
    policy_log_prob: torch.Tensor,
    reference_log_prob: torch.Tensor,
    outcome: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """PRIME's cross-entropy (Eq. 4): BCE(sigmoid(beta * (log pi_phi - log pi_ref)), y), mean."""
    logits = beta * (policy_log_prob - reference_log_prob)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, outcome)


def implicit_prm_steps(
    model: Any,
    optimizer: torch.optim.Optimizer,
    examples: Sequence[tuple[list[int], list[bool]]],
    reference: torch.Tensor,
    outcomes: torch.Tensor,
    *,
    beta: float,
    order: Sequence[int],
    batch_size: int,
    pad_id: int,
) -> Iterator[float]:
    """One pass of PRIME's loss over ``examples`` in ``order``; yields each step's loss.

    ``reference`` holds each example's action log-prob under pi_ref (computed once, before).
    """
    for start in range(0, len(order), batch_size):
        index = list(order[start : start + batch_size])
        batch = right_padded([examples[i] for i in index], pad_id)
        loss = implicit_prm_loss(
            action_log_prob(model, batch), reference[index], outcomes[index], beta
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        yield float(loss.detach())


def train_implicit(
    config: TrainPRMConfig, rows: Sequence[dict[str, Any]], base_model: str | Path
) -> Path:
    """Train an implicit PRM on TRL PRM rows (with ``actions``) and save base + adapter.

    Args:
        config: The run; ``output_dir`` receives ``base/``, ``adapter/`` and the marker.
        rows: Rows from :mod:`prmgym.training.prm.dataset`; the last label is the outcome.
        base_model: A local dir or cached hub id of a causal LM.

    Returns:
        The output directory, loadable with ``load_learned_prm``.
    """
    if not rows:
        raise ValueError("no training rows; check the data source in the config")
    torch.manual_seed(config.seed)
    output = Path(config.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    # The base is saved untouched before LoRA wraps it: it is pi_ref and the adapter's base.
    model.save_pretrained(output / BASE_DIR)
    tokenizer.save_pretrained(output / BASE_DIR)
    n_layers = len(model.base_model.layers)
    top = config.train_layers if config.train_layers > 0 else n_layers
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=config.lora_rank or DEFAULT_IMPLICIT_RANK,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=config.lora_targets,
        layers_to_transform=list(range(n_layers - top, n_layers)),
    )
    model = get_peft_model(model, lora)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    examples = [action_token_example(tokenizer, row, config.max_length) for row in rows]
    outcomes = torch.tensor([float(row["labels"][-1]) for row in rows])
    started = time.perf_counter()
    reference = torch.zeros(len(examples))
    model.eval()
    with torch.no_grad(), model.disable_adapter():
        for start in tqdm(range(0, len(examples), config.batch_size), desc="reference log-probs"):
            chunk = examples[start : start + config.batch_size]
            reference[start : start + len(chunk)] = action_log_prob(
                model, right_padded(chunk, pad_id)
            )
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate
    )
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    losses = []
    total = config.epochs * -(-len(examples) // config.batch_size)
    with tqdm(total=total, desc="implicit PRM") as bar:
        for _ in range(config.epochs):
            order = torch.randperm(len(examples), generator=generator).tolist()
            for loss in implicit_prm_steps(
                model,
                optimizer,
                examples,
                reference,
                outcomes,
                beta=config.beta,
                order=order,
                batch_size=config.batch_size,
                pad_id=pad_id,
            ):
                losses.append(loss)
                bar.set_postfix(loss=f"{loss:.4f}")
                bar.update()
    model.save_pretrained(output / ADAPTER_DIR)
    summary = {
        "rows": len(rows),
        "share_success": float(outcomes.mean()),
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    write_training_record(
        output,
        config,
        kind="implicit",
        base_model=base_model,
        started=started,
        summary=summary,
        beta=config.beta,
    )
    return output
