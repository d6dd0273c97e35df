"""Train the token-classification PRM with TRL's ``PRMTrainer`` (Uesato et al. 2022).

Rows are tokenized here rather than by ``PRMTrainer.tokenize_row`` because TRL truncates from
the right, which would drop the last steps' labels; :func:`tokenize_prm_row` lays a row out the
same way (it is the scorer's :func:`encode_steps`) and cuts long rows from the left instead.
TRL skips its own tokenization when the dataset already has ``input_ids``.

For CPU speed only the top ``train_layers`` decoder layers, the final norm and the head train
(or LoRA adapters on those layers, merged into the weights before saving).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizerBase

from prmgym.rewards.learned.token_classification import encode_steps
from prmgym.rewards.render import STEP_SEPARATOR, RenderedTrajectory
from prmgym.training.prm.config import TrainPRMConfig
from prmgym.training.prm.record import write_training_record

with warnings.catch_warnings():
    # PRMTrainer only ever lived under trl.experimental; the pinned TRL (<1.14) is known to work.
    warnings.filterwarnings("ignore", message=".*trl.experimental.*")
    from trl.experimental.prm import PRMConfig, PRMTrainer


IGNORE_INDEX = -100
"""Token label the loss skips (every token but the step separators' last ones)."""


def tokenize_prm_row(
    tokenizer: PreTrainedTokenizerBase, row: dict[str, Any], max_length: int
) -> dict[str, list[int]]:
    """``input_ids`` and token ``labels`` of one TRL PRM row, as ``PRMTrainer.tokenize_row``.

    The label of each step sits on its separator's last token (1 good, 0 bad), every other
    token is ignored. A row longer than ``max_length`` loses tokens from the left after the
    bos token; labels whose token was cut go with it.
    """
    encoded = encode_steps(tokenizer, RenderedTrajectory(row["prompt"], list(row["completions"])))
    labels = [IGNORE_INDEX] * len(encoded.input_ids)
    for end, good in zip(encoded.step_ends, row["labels"], strict=True):
        labels[end] = int(good)
    ids = encoded.input_ids
    if len(ids) > max_length:
        keep, tail = encoded.prefix_tokens, max_length - encoded.prefix_tokens
        ids = ids[:keep] + ids[-tail:]
        labels = [IGNORE_INDEX] * keep + labels[-tail:]
    return {"input_ids": ids, "labels": labels}


def _freeze_below(model: torch.nn.Module, train_layers: int) -> None:
    """Train only the top ``train_layers`` decoder layers, the final norm and the head."""
    if train_layers == -1:
        return
    backbone = model.base_model
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    layers = backbone.layers
    trained = list(layers[len(layers) - train_layers :]) if train_layers else []
    if trained:
        trained.append(backbone.norm)
    for module in trained:
        for parameter in module.parameters():
            parameter.requires_grad_(True)


def _lora_config(config: TrainPRMConfig, n_layers: int) -> Any:
    from peft import LoraConfig

    top = config.train_layers if config.train_layers > 0 else n_layers
    return LoraConfig(
        task_type="TOKEN_CLS",
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        target_modules=config.lora_targets,
        layers_to_transform=list(range(n_layers - top, n_layers)),
    )


def train_token_classification(
    config: TrainPRMConfig, rows: Sequence[dict[str, Any]], base_model: str | Path
) -> Path:
    """Train a two-label token-classification PRM on TRL PRM rows and save it.

    Args:
        config: The run; ``output_dir`` receives the model, tokenizer and marker.
        rows: ``{prompt, completions, labels}`` rows (see :mod:`prmgym.training.prm.dataset`).
        base_model: A local dir or cached hub id of a causal LM to start from.

    Returns:
        The output directory, loadable with ``load_learned_prm``.
    """
    if not rows:
        raise ValueError("no training rows; check the data source in the config")
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForTokenClassification.from_pretrained(
        base_model, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1}
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    peft_config = None
    if config.lora_rank > 0:
        peft_config = _lora_config(config, len(model.base_model.layers))
    else:
        _freeze_below(model, config.train_layers)
    dataset = Dataset.from_list(
        [tokenize_prm_row(tokenizer, row, config.max_length) for row in rows]
    )
    output = Path(config.output_dir)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prmgym-prm-") as scratch:
        args = PRMConfig(
            output_dir=scratch,
            num_train_epochs=config.epochs,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size,
            max_length=config.max_length,
            step_separator=STEP_SEPARATOR,
            bf16=False,
            activation_checkpointing=False,
            report_to=[],
            save_strategy="no",
            logging_steps=max(1, len(rows) // (config.batch_size * 10)),
            seed=config.seed,
            use_cpu=not torch.cuda.is_available(),
        )
        trainer = PRMTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        result = trainer.train()
    trained = trainer.model
    if peft_config is not None:
        trained = trained.merge_and_unload()
    trained.save_pretrained(output)
    tokenizer.save_pretrained(output)
    summary = {
        "rows": len(rows),
        "steps_labelled": sum(len(row["labels"]) for row in rows),
        "share_good": sum(sum(row["labels"]) for row in rows)
        / max(1, sum(len(row["labels"]) for row in rows)),
        "train_loss": float(result.training_loss),
    }
    write_training_record(
        output,
        config,
        kind="token-classification",
        base_model=base_model,
        started=started,
        summary=summary,
    )
    return output
