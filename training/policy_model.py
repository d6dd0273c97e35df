"""The policy being trained: a transformers backend whose model carries a LoRA adapter.

:func:`load_policy_model` returns a ``TransformersBackend`` (``prmgym.agents.backends``), so
the same object generates the rollouts (through ``LLMPolicy``) and is trained: its ``model``
is the trainable peft model, and generation goes through the adapter, so every rollout after an
update samples from the updated policy. Two things the backend does for inference would break
that, and are turned off here:

* its prefix cache keeps key/values of shared prompt prefixes across ``generate`` calls; they
  are computed with the weights of the time, so after an update they would be stale;
* it shares one loaded model per (model, device, dtype) across the process; the policy gets a
  copy of its own, so training never changes another backend (say a judge PRM on the same
  model).

With LoRA the reference policy for a KL penalty is free: the base model with the adapter
disabled (:func:`reference_logprobs`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from prmgym.agents.backends.transformers_backend import SMOLLM2, TransformersBackend
from prmgym.errors import ConfigError
from prmgym.training.loss import action_logprobs
from prmgym.training.samples import ActionSample


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter settings of the policy (Hu et al. 2021, arXiv 2106.09685), through peft."""

    r: int = 16
    """Rank of the low-rank update of each adapted weight."""

    alpha: int = 32
    """Scale of the update: it is multiplied by ``alpha / r``."""

    dropout: float = 0.0
    """Dropout on the adapter's input, in [0, 1); it acts only in train mode, and any above 0
    makes the PPO ratio differ from 1 on-policy."""

    target_modules: tuple[str, ...] | None = None
    """Names of the modules to adapt (e.g. ``[q_proj, v_proj]``); null: peft's default for the
    architecture."""

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ConfigError(f"lora.r is the adapter rank, at least 1 (e.g. 16), got {self.r}")
        if self.alpha <= 0:
            raise ConfigError(f"lora.alpha must be positive (e.g. 2 * r = 32), got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"lora.dropout is a probability in [0, 1), got {self.dropout}")
        if self.target_modules is not None:
            if isinstance(self.target_modules, str) or not self.target_modules:
                raise ConfigError(
                    "lora.target_modules is a non-empty list of module names, e.g. "
                    f"[q_proj, v_proj], or null for peft's default; got {self.target_modules!r}"
                )
            # YAML gives a list; a tuple keeps the frozen settings hashable and immutable.
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def peft_config(self) -> LoraConfig:
        """The peft ``LoraConfig`` of a causal LM with these settings."""
        targets = list(self.target_modules) if self.target_modules is not None else None
        return LoraConfig(
            task_type="CAUSAL_LM",
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=targets,
        )


DEFAULT_LORA = LoraSettings()
"""The default adapter: rank 16, alpha 32, no dropout, peft's default modules."""


def load_policy_model(
    model: str | Path = SMOLLM2,
    *,
    lora: LoraSettings | None = DEFAULT_LORA,
    device: str = "cpu",
    dtype: torch.dtype | str | None = None,
) -> TransformersBackend:
    """A generation backend whose model is ready to train.

    The backend keeps its prefix cache (most of an agent's prompt is shared, so rollouts are
    several times faster with it); whoever changes the weights must call
    ``backend.forget_cached_prefixes()`` afterwards, as the trainer does after every update.
    It gets its own copy of the weights, wrapped in a LoRA
    adapter in place so that ``generate`` samples from the adapted model. The model stays in
    eval mode, as loaded: dropout would make log-probs differ between rollout and update.

    Args:
        model: ``"smollm2"``, a hub id or a local model directory (see ``TransformersBackend``).
        lora: Adapter settings; None fine-tunes every weight instead.
        device: Torch device of the model.
        dtype: Weight dtype; None keeps the checkpoint's.

    Returns:
        The backend: ``.model`` is the trainable model (a ``PeftModel`` with only the adapter's
        parameters trainable, or the full model with all trainable), ``.tokenizer`` its
        tokenizer.

    Raises:
        ProviderError: The model cannot be loaded.
        ConfigError: LoRA cannot wrap the model with these settings.
    """
    backend = TransformersBackend(model, device=device, dtype=dtype)
    # The loaded model is shared per process; training must not change other backends' weights.
    weights: Any = copy.deepcopy(backend.model)
    if lora is None:
        weights.requires_grad_(True)
    else:
        try:
            weights = get_peft_model(weights, lora.peft_config())
        except ValueError as exc:
            raise ConfigError(
                f"LoRA cannot wrap {model}: {exc}; set lora.target_modules to names of the "
                "model's linear layers (e.g. [q_proj, v_proj] for Llama-like models)"
            ) from exc
    backend.model = weights
    return backend


def reference_logprobs(
    policy: TransformersBackend | torch.nn.Module,
    samples: Sequence[ActionSample],
    *,
    batch_size: int = 8,
    pad_id: int | None = None,
) -> list[torch.Tensor]:
    """Log-probs of the samples' action tokens under the reference policy, without grad.

    The reference is the LoRA base: the policy's model with its adapter disabled, i.e. the
    model before any update.

    Args:
        policy: The backend from :func:`load_policy_model`, or its ``.model``.
        samples: The action samples.
        batch_size: Samples per forward pass.
        pad_id: Padding token id; default: the backend tokenizer's, else 0 (padding is masked,
            so any valid id does).

    Returns:
        Per sample, a 1-D tensor of the action tokens' log-probs (see ``action_logprobs``).

    Raises:
        ConfigError: The model has no adapter (full fine-tuning): keeping a frozen copy as the
            reference is not supported.
    """
    model: Any = policy
    if isinstance(policy, TransformersBackend):
        model = policy.model
        if pad_id is None:
            pad_id = policy.tokenizer.pad_token_id
    if not isinstance(model, PeftModel):
        raise ConfigError(
            "a reference policy needs a LoRA policy (its base is the reference); with full "
            "fine-tuning (lora: null) set kl_coef to 0"
        )
    with torch.no_grad(), model.disable_adapter():
        logprobs, _ = action_logprobs(
            model, samples, batch_size=batch_size, pad_id=pad_id if pad_id is not None else 0
        )
    return logprobs
