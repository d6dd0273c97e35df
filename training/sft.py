"""SFT warm start: supervised fine-tuning on expert steps before RL.

A small model rarely solves a task by chance, and a group whose episodes all fail has no
outcome variance to learn from. Imitating expert episodes first (behaviour cloning) gives RL a
policy that sometimes succeeds, which it then sharpens. The experts are the family's scripted
oracle (``source: oracle``) or successful episodes from a trajectories file such as ``prmgym
eval`` writes (``source: file``).

Each successful episode becomes one pre-tokenized row for TRL: the tokens of its last step's
prompt and reply, with labels on the tokens of every reply the policy wrote in the episode and
``-100`` on the rest (system prompt, worked examples, observations). Step t's chat is a prefix
of step t+1's, so one row teaches all of an episode's moves at the cost of its longest step,
where one row per step would pay for the shared history again at every step (about 3x the
tokens on search-lite). Where the prefix breaks (the prompt dropped old turns, or a model's
raw completion differs from the action its history shows), the episode is split there.

The prompts are built exactly as :class:`~prmgym.agents.policies.llm.LLMPolicy` builds them
(:func:`~prmgym.training.samples.action_samples`), so the model learns each move in the
context it will act in. :func:`sft_warm_start` trains the backend's own model with
``trl.SFTTrainer``, in place: the RL loop then rolls out with, and keeps training, the same
adapter.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from transformers import PreTrainedTokenizerBase

from prmgym.agents.backends.transformers_backend import TransformersBackend
from prmgym.agents.policies.oracle import OraclePolicy
from prmgym.agents.runner import run_episodes
from prmgym.errors import ConfigError
from prmgym.training.rollouts import EnvFactory, split_task_ids
from prmgym.training.samples import action_samples, replay_first_observations
from prmgym.trajectory import Trajectory, load_trajectories

IGNORE = -100
"""Label of a token the loss skips (the value TRL and transformers use)."""

SFTRow = dict[str, list[int]]
"""One training row: ``input_ids`` and ``labels`` (``IGNORE`` on tokens not trained on)."""


@dataclass
class SFTSettings:
    """Supervised fine-tuning on expert steps before RL (a warm start)."""

    source: Literal["oracle", "file"] = "oracle"
    """Where the expert episodes come from: the family's scripted ``oracle`` on training tasks,
    or a trajectories JSONL ``file`` (``path``; e.g. what ``prmgym eval`` writes)."""

    path: str | None = None
    """The trajectories JSONL of ``source: file``; its successful episodes are used."""

    tasks: int = 64
    """Training-split tasks (a seeded draw) the oracle solves (``source: oracle``)."""

    epochs: float = 1.0
    """Passes over the rows (a fraction stops part-way)."""

    learning_rate: float = 2e-4
    """Peak learning rate, decayed linearly to 0 (LoRA takes larger rates than full weights)."""

    batch_size: int = 4
    """Rows per forward pass."""

    grad_accumulation: int = 1
    """Forward passes per optimizer step."""

    max_length: int = 2048
    """Most tokens per row: an episode's steps are merged into one row up to it, and a step
    longer on its own is left out (``steps_dropped`` in the metrics)."""

    def __post_init__(self) -> None:
        if self.source not in ("oracle", "file"):
            raise ConfigError(f"sft.source is oracle or file, got {self.source!r}")
        if self.source == "file" and not self.path:
            raise ConfigError(
                "sft.source: file reads sft.path; set it to a trajectories JSONL "
                "(e.g. the trajectories.jsonl of a `prmgym eval` run)"
            )
        if self.source == "oracle" and self.path is not None:
            raise ConfigError("sft.path is read only with sft.source: file; remove it or set both")
        for name in ("tasks", "batch_size", "grad_accumulation", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sft.{name} must be at least 1, got {getattr(self, name)}")
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError(
                f"sft.epochs and sft.learning_rate must be positive (e.g. 1 and 2e-4), got "
                f"{self.epochs} and {self.learning_rate}"
            )


def sft_rows(
    trajectories: Sequence[Trajectory],
    first_observations: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    *,
    max_length: int | None = None,
) -> tuple[list[SFTRow], int]:
    """Pre-tokenized rows of every successful, non-broken trajectory (see the module notes).

    Args:
        trajectories: Expert episodes; failed or broken ones are skipped.
        first_observations: Per trajectory, the observation its episode started from (see
            :func:`~prmgym.training.samples.replay_first_observations`).
        tokenizer: The policy's tokenizer, with its chat template.
        max_length: Most tokens per row: steps are not merged past it, and a step longer on
            its own is dropped. None: no limit.

    Returns:
        The rows in trajectory order, and how many steps were dropped for ``max_length``.
        Labels are the reply tokens (the step's completion, or its action when the
        completion is empty, as scripted agents leave it) up to the end-of-turn token.

    Raises:
        ValueError: ``first_observations`` does not hold one observation per trajectory.
    """
    if len(trajectories) != len(first_observations):
        raise ValueError(
            f"got {len(trajectories)} trajectories and {len(first_observations)} first "
            "observations; pass one per trajectory"
        )
    kept = [
        (t, first)
        for t, first in zip(trajectories, first_observations, strict=True)
        if t.error is None and t.success
    ]
    samples = action_samples(
        [t for t, _ in kept],
        [[0.0] * len(t.steps) for t, _ in kept],
        tokenizer,
        first_observations=[first for _, first in kept],
    )
    rows: list[SFTRow] = []
    dropped = 0
    ids: list[int] = []
    labels: list[int] = []
    episode = None
    for sample in samples:
        full = [*sample.prompt_ids, *sample.action_ids]
        if max_length is not None and len(full) > max_length:
            dropped += 1
            continue
        if not (sample.episode == episode and sample.prompt_ids[: len(ids)] == ids):
            if ids:
                rows.append({"input_ids": ids, "labels": labels})
            ids, labels = [], []
        labels = [*labels, *[IGNORE] * (len(sample.prompt_ids) - len(ids)), *sample.action_ids]
        ids, episode = full, sample.episode
    if ids:
        rows.append({"input_ids": ids, "labels": labels})
    return rows, dropped


def oracle_trajectories(
    make_env: EnvFactory, task_ids: Sequence[str], *, seed: int = 0
) -> list[Trajectory]:
    """The family oracle's episodes of ``task_ids`` that succeeded (normally all of them)."""
    episodes = run_episodes(make_env, task_ids, OraclePolicy(), seed=seed)
    return [t for t in episodes if t.success and t.error is None]


def warm_start_rows(
    settings: SFTSettings,
    make_env: EnvFactory,
    tokenizer: PreTrainedTokenizerBase,
    *,
    seed: int = 0,
) -> tuple[list[SFTRow], int]:
    """The rows ``settings.source`` gives, on the tasks of ``make_env``'s envs (training split).

    Returns:
        The rows (see :func:`sft_rows`) and the number of steps dropped for being longer than
        ``settings.max_length``.

    Raises:
        ConfigError: The trajectories file holds episodes of tasks outside the split (training
            on them would leak held-out tasks), or no row came out.
    """
    train_ids = split_task_ids(make_env)
    if settings.source == "oracle":
        drawn = random.Random(f"sft:{seed}").sample(train_ids, min(settings.tasks, len(train_ids)))
        trajectories = oracle_trajectories(make_env, drawn, seed=seed)
    else:
        assert settings.path is not None  # __post_init__ guarantees it
        trajectories = [
            t for t in load_trajectories(settings.path) if t.success and t.error is None
        ]
        outside = sorted({t.task.id for t in trajectories} - set(train_ids))
        if outside:
            raise ConfigError(
                f"{settings.path} holds episodes of {len(outside)} task(s) outside the training "
                f"split (e.g. {outside[0]!r}); use episodes of training tasks only (a `prmgym "
                "eval` run on a suite of the training split), so no held-out task is trained on"
            )
    env = make_env()
    try:
        first = replay_first_observations(env, trajectories)
    finally:
        env.close()
    rows, dropped = sft_rows(trajectories, first, tokenizer, max_length=settings.max_length)
    if not rows:
        raise ConfigError(
            f"no successful expert episode to fine-tune on from sft.source {settings.source}; "
            "an oracle episode must fit the step limit (rollout.max_steps: the search oracle "
            "takes a search and an open per evidence document, then the answer), a "
            "trajectories file must hold successful episodes, and a step must fit "
            f"sft.max_length ({settings.max_length} tokens; {dropped} step(s) did not)"
        )
    return rows, dropped


def sft_warm_start(
    backend: TransformersBackend,
    rows: Sequence[SFTRow],
    settings: SFTSettings,
    output_dir: str | Path | None = None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Fine-tune ``backend.model`` on ``rows`` in place with ``trl.SFTTrainer``.

    The model object is trained as it is, adapter and all (no second adapter is added), and
    left in eval mode, so the backend generates with the fine-tuned weights at once. The loss
    covers the labelled tokens (each reply and its end of turn) only.

    Args:
        backend: The policy, e.g. from :func:`~prmgym.training.policy_model.load_policy_model`.
        rows: Pre-tokenized rows (see :func:`sft_rows`).
        settings: Epochs, learning rate, batch and length settings.
        output_dir: Scratch folder for TRL (nothing is saved there on purpose); None: a
            temporary folder, removed afterwards.
        seed: Seed of the row order and of TRL's initialisation.

    Returns:
        ``loss`` (mean over the run), ``final_loss`` and ``token_accuracy`` (of the last
        optimizer step), ``steps`` (optimizer steps), ``rows`` and ``tokens`` (trained on) and
        ``runtime_s``.

    Raises:
        ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError("no rows to fine-tune on; see warm_start_rows")
    # TRL and datasets take seconds to import; configs and the RL loop load without them.
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    model = backend.model
    # TRL needs a folder even when it saves nothing; a given one is kept, a scratch one is not.
    with tempfile.TemporaryDirectory(prefix="prmgym-sft-") as scratch:
        args = SFTConfig(
            output_dir=str(output_dir or scratch),
            num_train_epochs=settings.epochs,
            learning_rate=settings.learning_rate,
            per_device_train_batch_size=settings.batch_size,
            gradient_accumulation_steps=settings.grad_accumulation,
            max_length=settings.max_length,
            packing=False,
            # TRL's default loss (chunked_nll) patches the model's forward for good, and its
            # default activation checkpointing leaves hooks on the model; the RL loop goes on
            # with this model, so neither may outlive the warm start.
            loss_type="nll",
            activation_checkpointing=False,
            # Train in the weights' own dtype, as the RL update does (TRL defaults to bf16).
            bf16=False,
            use_cpu=next(model.parameters()).device.type == "cpu",
            seed=seed,
            logging_steps=1,
            disable_tqdm=True,
            report_to=[],
            save_strategy="no",
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(list(rows)),
            processing_class=backend.tokenizer,
        )
        # The run's own metrics carry the outcome; per-step prints would clutter the CLI.
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
    model.eval()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    last = logged[-1] if logged else {}
    return {
        "loss": float(result.training_loss),
        "final_loss": float(last.get("loss", result.training_loss)),
        "token_accuracy": float(last.get("mean_token_accuracy", 0.0)),
        "steps": float(result.global_step),
        "rows": float(len(rows)),
        "tokens": float(sum(len(row["input_ids"]) for row in rows)),
        "runtime_s": float(result.metrics.get("train_runtime", 0.0)),
    }
