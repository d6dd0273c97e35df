"""Train the value-head PRM (arXiv 2510.23083) with a short BCE loop.

"Smaller Models, Smarter Rewards" fine-tunes a small decoder with a regression head to predict
the success probability of partial outputs. Every step t of a row is one training prefix
(task and steps up to t) with a target in [0, 1]: the row's outcome, or the step's own label
(``TrainPRMConfig.value_target``). The loss is binary cross-entropy between sigmoid(head(h_t))
and the target, averaged over prefixes. Causal attention lets one forward pass over a row
train all of its prefixes at once, with exactly the values the scorer reads at test time.

As in the token-classification trainer, only the top ``train_layers`` decoder layers, the final
norm and the head train (or LoRA adapters on those layers, merged before saving).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from tqdm.auto import tqdm
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from prmgym.rewards.learned.token_classification import encode_steps
from prmgym.rewards.learned.value_head import ValueHeadModel
from prmgym.rewards.render import RenderedTrajectory
from prmgym.training.prm.config import TrainPRMConfig, ValueTarget
from prmgym.training.prm.record import write_training_record
from prmgym.training.samples import right_padded


@dataclass(frozen=True)
class ValueExample:
    """One row as token ids and the prefixes it trains.

    Attributes:
        input_ids: The row in the scorer's layout, cut from the left to the token budget.
        positions: Index in ``input_ids`` of each kept step's last separator token.
        targets: The success target of each of those prefixes.
    """

    input_ids: list[int]
    positions: list[int]
    targets: list[float]


def value_targets(row: dict[str, Any], target: ValueTarget) -> list[float]:
    """The target of each step's prefix: the row's outcome (its last label) or each label."""
    labels = [float(label) for label in row["labels"]]
    return [labels[-1]] * len(labels) if target == "outcome" else labels


def value_example(
    tokenizer: PreTrainedTokenizerBase,
    row: dict[str, Any],
    targets: Sequence[float],
    max_length: int,
) -> ValueExample:
    """A TRL PRM row laid out as the scorer reads it, one target per step.

    A row longer than ``max_length`` loses tokens from the left after the bos token; the
    prefixes whose last token was cut go with them.
    """
    encoded = encode_steps(tokenizer, RenderedTrajectory(row["prompt"], list(row["completions"])))
    ids, positions = encoded.input_ids, list(encoded.step_ends)
    kept = list(zip(positions, targets, strict=True))
    if len(ids) > max_length:
        keep = encoded.prefix_tokens
        cut = len(ids) - (max_length - keep)
        ids = ids[:keep] + ids[cut:]
        kept = [(p - cut + keep, t) for p, t in kept if p >= cut]
    return ValueExample(ids, [p for p, _ in kept], [t for _, t in kept])


def value_head_loss(
    logits: torch.Tensor, marked: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """BCE between sigmoid(``logits``) and ``targets`` at the ``marked`` positions, mean."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[marked], targets[marked])


def value_head_steps(
    model: ValueHeadModel,
    optimizer: torch.optim.Optimizer,
    examples: Sequence[ValueExample],
    *,
    order: Sequence[int],
    batch_size: int,
    pad_id: int,
) -> Iterator[float]:
    """One pass of the value loss over ``examples`` in ``order``; yields each step's loss."""
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        chosen = [examples[i] for i in order[start : start + batch_size]]
        rows = []
        for example in chosen:
            mask = [False] * len(example.input_ids)
            for position in example.positions:
                mask[position] = True
            rows.append((example.input_ids, mask))
        input_ids, attention, marked = right_padded(rows, pad_id)
        targets = torch.zeros(marked.shape)
        for row, example in enumerate(chosen):
            targets[row, example.positions] = torch.tensor(example.targets)
        if not marked.any():
            # Every prefix of these rows was cut by the token budget: nothing to learn from.
            continue
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device))
        loss = value_head_loss(logits, marked.to(device), targets.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        yield float(loss.detach())


def _trainable(model: ValueHeadModel, config: TrainPRMConfig) -> None:
    """Make the head and the configured part of the backbone trainable (LoRA or in full)."""
    n_layers = len(model.backbone.layers)
    if config.lora_rank > 0:
        top = config.train_layers if config.train_layers > 0 else n_layers
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=0.0,
            target_modules=config.lora_targets,
            layers_to_transform=list(range(n_layers - top, n_layers)),
            # The backbone is the root here, so its module names start at "layers.N", which
            # peft's default layer pattern (it wants a parent prefix) does not match.
            layers_pattern="layers",
        )
        model.backbone = get_peft_model(model.backbone, lora)
        return
    if config.train_layers == -1:
        return
    model.backbone.requires_grad_(False)
    if config.train_layers:
        for layer in model.backbone.layers[n_layers - config.train_layers :]:
            layer.requires_grad_(True)
        model.backbone.norm.requires_grad_(True)


def train_value_head(
    config: TrainPRMConfig, rows: Sequence[dict[str, Any]], base_model: str | Path
) -> Path:
    """Train a value-head PRM on TRL PRM rows and save it.

    Args:
        config: The run; ``output_dir`` receives the backbone, tokenizer, head and marker.
        rows: Rows from :mod:`prmgym.training.prm.dataset`.
        base_model: A local dir or cached hub id of a causal LM to start from.

    Returns:
        The output directory, loadable with ``load_learned_prm``.
    """
    if not rows:
        raise ValueError("no training rows; check the data source in the config")
    torch.manual_seed(config.seed)
    output = Path(config.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = ValueHeadModel.from_base(base_model)
    _trainable(model, config)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    examples = [
        value_example(tokenizer, row, value_targets(row, config.value_target), config.max_length)
        for row in rows
    ]
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate
    )
    generator = torch.Generator().manual_seed(config.seed)
    started = time.perf_counter()
    model.train()
    losses = []
    total = config.epochs * -(-len(examples) // config.batch_size)
    with tqdm(total=total, desc="value-head PRM") as bar:
        for _ in range(config.epochs):
            order = torch.randperm(len(examples), generator=generator).tolist()
            for loss in value_head_steps(
                model,
                optimizer,
                examples,
                order=order,
                batch_size=config.batch_size,
                pad_id=pad_id,
            ):
                losses.append(loss)
                bar.set_postfix(loss=f"{loss:.4f}")
                bar.update()
    if not losses:
        raise ValueError(f"max_length {config.max_length} cuts every step of every row; raise it")
    if config.lora_rank > 0:
        model.backbone = model.backbone.merge_and_unload()
    model.cpu().save(output)
    tokenizer.save_pretrained(output)
    targets = [t for example in examples for t in example.targets]
    summary = {
        "rows": len(rows),
        "prefixes": len(targets),
        "mean_target": sum(targets) / max(1, len(targets)),
        "value_target": config.value_target,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    write_training_record(
        output, config, kind="value-head", base_model=base_model, started=started, summary=summary
    )
    return output
