"""TrainConfig: what ``prmgym train`` trains, on which episodes, and how.

Loaded from YAML with ``KEY=VALUE`` overrides (dotted keys reach into sections)::

    config = load_train_config("configs/quickstart.yaml", ["rollout.group_size=8", "lora=null"])

Each field is documented once, below; ``__post_init__`` rejects bad values saying how to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prmgym import plugins
from prmgym.errors import ConfigError
from prmgym.registry import env_info
from prmgym.training.online_prm import OnlinePRMSettings
from prmgym.training.policy_model import LoraSettings
from prmgym.training.sft import SFTSettings
from prmgym.training.yaml_config import load_dataclass

ProcessReturn = Literal["discounted", "min", "delta", "raw"]
Normalize = Literal["std", "none"]
Baseline = Literal["mean", "leave_one_out"]


def _one_of(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} is one of {', '.join(allowed)}, got {value!r}")


def _at_least(config: Any, minimum: float, *names: str, section: str = "") -> None:
    """Each field in ``names`` is ``minimum`` or more; errors name it as ``section.name``."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ConfigError(f"{section}{name} must be at least {minimum:g}, got {value}")


@dataclass
class RolloutConfig:
    """Which episodes each iteration collects."""

    env_id: str = "prmgym/SearchQA-v0"
    """The registered env the policy acts in; ``module:ns/Env-v0`` imports ``module`` first."""

    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of ``gymnasium.make`` (e.g. ``corpus``, ``tasks``)."""

    split: str = "train"
    """Task split trained on; ``eval.split`` measures."""

    tasks_per_iteration: int = 8
    """Tasks drawn (seeded) per iteration."""

    group_size: int = 4
    """Episodes per task (G): the group outcome advantages are normalised in. With ``mode:
    shared_prefix``, the siblings drawn at each state (k)."""

    mode: Literal["episodes", "shared_prefix"] = "episodes"
    """``episodes``: ``group_size`` independent episodes per task. ``shared_prefix`` (SLATE,
    "Truncated Step-Level Sampling with Process Rewards for Retrieval-Augmented Reasoning"):
    one trunk episode per task; at each of its states ``group_size`` sibling actions are each
    executed from an env snapshot and PRM-scored right after (truncated branches); the update
    trains on each sibling's step with an advantage baselined within its siblings (``omega``
    times ``A_S``; no outcome term). Needs ``rollout.prm`` and an env with
    ``snapshot``/``restore`` (every prmgym family); local only. Logs
    ``rollout/adv_var_shared`` and ``rollout/adv_var_task_wide``: the same steps' advantage
    variance with and without the shared state."""

    max_steps: int = 6
    """Step limit of each episode."""

    temperature: float = 0.8
    """Sampling temperature of the rollouts (groups need distinct episodes)."""

    max_new_tokens: int = 48
    """Most tokens per action."""

    batch_size: int = 32
    """Live episodes at once; generation is batched across them."""

    prm: str | None = "verifier"
    """Scorer spec of the step rewards (``verifier``, ``rubric``, a PRM dir...; see ``prmgym
    eval --prm``), or ``online-implicit``: an implicit PRM trained on each iteration's
    outcomes as the policy trains (settings in ``online_prm``); null trains on outcomes
    alone."""

    judge: str = "smollm2"
    """LLM judge of judged scorers (``rubric``, or a rubric YAML with judged criteria, e.g.
    one with BiPRM/HRM ``scoring``): smollm2, transformers:ID, openai:MODEL@URL or vllm:ID.
    Loaded only when the scorer needs one."""

    distributed: Literal["local", "ray"] = "local"
    """Where rollout envs live: in this process (``local``), or on Ray actors (``ray``; the
    cluster ``RAY_ADDRESS`` names, or a local one), with steps run concurrently and the PRM
    scoring next to each env. Held-out evaluation stays local."""

    env_workers: int = 2
    """Ray actors hosting the rollout envs (``distributed: ray``)."""

    engine: Literal["transformers", "vllm", "vllm-server"] = "transformers"
    """What generates rollouts and evaluation episodes: the training model itself
    (``transformers``); vLLM in this process on a GPU (``vllm``, colocated, LoRA only: the
    adapter is saved after every update and vLLM generates with it); or a vLLM server of its
    own (``vllm-server``, at ``vllm_server_url``: generation over HTTP through TRL's client,
    and after every update the policy's weights, LoRA merged, are broadcast to it over NCCL,
    so the trainer must be on a CUDA device). Either way rollouts use the current policy."""

    vllm_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra ``vllm.LLM`` arguments (e.g. ``gpu_memory_utilization: 0.3`` to leave the
    training model room on the same GPU)."""

    vllm_server_url: str = "http://127.0.0.1:8000"
    """Root URL of the server ``engine: vllm-server`` uses; start it with
    ``VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --weight-transfer-config '{"backend": "nccl"}'``
    serving the model being trained."""

    vllm_server_timeout: float = 240.0
    """Seconds to wait for that server to come up."""

    def __post_init__(self) -> None:
        _at_least(
            self,
            1,
            "tasks_per_iteration",
            "group_size",
            "max_steps",
            "max_new_tokens",
            "batch_size",
            "env_workers",
            section="rollout.",
        )
        if self.vllm_server_timeout <= 0:
            raise ConfigError(
                "rollout.vllm_server_timeout is seconds to wait for the server, above 0"
                f" (e.g. 240), got {self.vllm_server_timeout}"
            )
        if self.engine not in ("transformers", "vllm", "vllm-server"):
            raise ConfigError(
                f"rollout.engine is transformers, vllm or vllm-server, got {self.engine!r}"
            )
        if self.distributed not in ("local", "ray"):
            raise ConfigError(f"rollout.distributed is local or ray, got {self.distributed!r}")
        if self.temperature <= 0:
            raise ConfigError(
                "rollout.temperature must be above 0: a group needs distinct episodes"
            )
        _one_of("rollout.mode", self.mode, ("episodes", "shared_prefix"))
        if self.mode == "shared_prefix":
            if self.prm is None or self.prm == "online-implicit":
                raise ConfigError(
                    "rollout.mode: shared_prefix scores each sibling step with a PRM fixed for"
                    " the run; set rollout.prm (e.g. verifier)"
                )
            if self.distributed != "local" or self.group_size < 2:
                raise ConfigError(
                    "rollout.mode: shared_prefix needs rollout.distributed: local and"
                    " rollout.group_size of at least 2 (siblings compared per state)"
                )


@dataclass
class AdvantageConfig:
    """How outcome and step rewards become per-step advantages (DESIGN section 7)."""

    omega: float = 1.0
    """Weight of the step-level term: A = A_E + omega * A_S (0: outcome only)."""

    process: ProcessReturn = "discounted"
    """Step return Q: ``discounted`` sum, ``min`` (PURE), ``delta``, or the ``raw`` PRM score."""

    gamma: float = 0.95
    """Discount of the ``discounted`` process return."""

    normalize: Normalize = "std"
    """Divide by the group's std (``std``) or not (``none``)."""

    baseline: Baseline = "mean"
    """Group mean (GRPO) or the mean of the others (``leave_one_out``, RLOO)."""

    clip: float | None = None
    """Clip advantages to [-clip, clip] (a guard against reward hacking); null: no clip."""

    prof_keep: float | None = None
    """PROF consistency filtering (arXiv 2509.03403): the share of each task group's correct
    and of its failed rollouts trained on, in (0, 1]; the correct ones with the lowest mean PRM
    step score and the failed ones with the highest are dropped (no advantage, no loss; still
    in the rollout metrics, counted as ``rollout/prof_dropped``). Needs ``rollout.prm``; null:
    off. See :mod:`prmgym.training.prof`."""

    def __post_init__(self) -> None:
        _one_of("advantages.process", self.process, ("discounted", "min", "delta", "raw"))
        _one_of("advantages.normalize", self.normalize, ("std", "none"))
        _one_of("advantages.baseline", self.baseline, ("mean", "leave_one_out"))
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"advantages.gamma is in (0, 1], got {self.gamma}")
        if self.omega < 0 or (self.clip is not None and self.clip <= 0):
            raise ConfigError("advantages.omega must be >= 0 and advantages.clip positive or null")
        if self.prof_keep is not None and not 0 < self.prof_keep <= 1:
            raise ConfigError(
                f"advantages.prof_keep is a share in (0, 1] (0.5 keeps half of each class) or"
                f" null (off), got {self.prof_keep}"
            )


@dataclass
class OptimConfig:
    """The policy update of each iteration."""

    learning_rate: float = 2e-4
    """AdamW learning rate (LoRA takes larger rates than full fine-tuning)."""

    epochs: int = 1
    """Passes over each iteration's samples (PPO epochs)."""

    minibatch_size: int = 8
    """Action samples per forward pass."""

    grad_accumulation: int = 1
    """Minibatches per optimizer step."""

    clip_eps: float = 0.2
    """PPO clip range of the probability ratio."""

    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference (the LoRA base); 0 skips it."""

    max_grad_norm: float = 1.0
    """Gradient norm clip."""

    max_prompt_tokens: int | None = None
    """Keep at most this many prompt tokens per sample (the most recent); null keeps all."""

    prefix_cache: bool = True
    """Compute the prompt prefix a minibatch shares (system prompt, worked examples) once
    without gradient; same log-probs, gradient through the rest only, several times faster on
    CPU (see ``prmgym.training.loss.action_logprobs``)."""

    def __post_init__(self) -> None:
        _at_least(self, 1, "epochs", "minibatch_size", "grad_accumulation", section="optim.")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ConfigError(
                "optim.max_prompt_tokens keeps that many prompt tokens, at least 1; null keeps"
                f" all, got {self.max_prompt_tokens}"
            )
        if self.learning_rate <= 0 or self.clip_eps <= 0 or self.max_grad_norm <= 0:
            raise ConfigError(
                "optim.learning_rate, optim.clip_eps and optim.max_grad_norm must be above 0,"
                f" got {self.learning_rate}, {self.clip_eps}, {self.max_grad_norm}"
            )
        if self.kl_coef < 0:
            raise ConfigError(f"optim.kl_coef must be 0 (off) or more, got {self.kl_coef}")


@dataclass
class EvalConfig:
    """Held-out measurement during training."""

    split: str = "test"
    """Task split measured on."""

    tasks: int = 50
    """Tasks measured (the split's first ones), one greedy episode each."""

    every: int = 5
    """Measure every this many iterations (and before the first and after the last); 0: only
    before and after."""

    def __post_init__(self) -> None:
        _at_least(self, 1, "tasks", section="eval.")
        _at_least(self, 0, "every", section="eval.")


@dataclass
class TrainConfig:
    """An RL training run of an LLM agent."""

    model: str = "smollm2"
    """``smollm2`` (the embedded default), a local model dir, or a cached hub id."""

    lora: LoraSettings | None = field(default_factory=LoraSettings)
    """LoRA adapter settings; null fine-tunes every weight."""

    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Which episodes each iteration collects."""

    advantages: AdvantageConfig = field(default_factory=AdvantageConfig)
    """How rewards become advantages."""

    online_prm: OnlinePRMSettings = field(default_factory=OnlinePRMSettings)
    """The online implicit PRM, used when ``rollout.prm`` is ``online-implicit``."""

    optim: OptimConfig = field(default_factory=OptimConfig)
    """The update."""

    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out measurement."""

    sft: SFTSettings | None = None
    """SFT warm start before RL (null: none)."""

    iterations: int = 20
    """Rollout-and-update iterations (0 with ``sft`` set: the warm start alone)."""

    checkpoint_every: int = 1
    """Save a checkpoint every this many iterations (the run resumes from the last)."""

    output_dir: str = "runs/train"
    """Where checkpoints, metrics.jsonl and the final model go."""

    seed: int = 0
    """Seed of task draws, sampling and initialisation."""

    device: str = "cpu"
    """Torch device of the policy."""

    imports: list[str] = field(default_factory=list)
    """Modules imported before ``rollout.env_id`` is looked up (plugins registering their
    families); ``prmgym train`` adds those it imported, so the saved ``config.yaml`` repeats
    the run."""

    def __post_init__(self) -> None:
        plugins.import_modules(self.imports, source="imports:")
        env_info(self.rollout.env_id)  # an unknown id fails now, not after the model loads
        if self.rollout.engine == "vllm" and self.lora is None:
            raise ConfigError(
                "rollout.engine: vllm syncs the policy into vLLM as a LoRA adapter; set lora "
                "(e.g. lora: {r: 16}) or use rollout.engine: transformers for full fine-tuning"
            )
        if self.advantages.prof_keep is not None and self.rollout.mode == "shared_prefix":
            raise ConfigError(
                "advantages.prof_keep ranks whole rollouts by outcome, but shared_prefix"
                " branches are truncated and have none; set one of them off"
            )
        if self.advantages.prof_keep is not None and self.rollout.prm is None:
            raise ConfigError(
                "advantages.prof_keep ranks rollouts by their PRM step scores but rollout.prm is"
                " null; set rollout.prm (e.g. verifier) or advantages.prof_keep: null"
            )
        _at_least(self, 1, "checkpoint_every")
        _at_least(self, 0, "seed")
        _at_least(self, 0 if self.sft is not None else 1, "iterations")


def load_train_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a TrainConfig from YAML (or the defaults when ``path`` is None) plus overrides.

    Raises:
        ConfigError: The file is missing, a key is unknown, or a value fails validation.
    """
    return load_dataclass(TrainConfig, path, overrides, example="configs/quickstart.yaml")
