"""ValueHeadPRM: P(success | prefix) from a small decoder with a regression head.

"Smaller Models, Smarter Rewards: A Two-Sided Approach to Process and Outcome Rewards"
(Groeneveld et al., arXiv 2510.23083) turns a decoder-only LM into a reward model by putting a
regression layer on its last hidden state and fine-tuning it to estimate the success
probability of partial outputs; the one model then scores intermediate steps (a process
reward) and finished candidates (an outcome critic for best-of-N). Here the decoder is SmolLM2
by default, a prefix is the task and the steps up to t in the learned-PRM layout
(:func:`~prmgym.rewards.learned.token_classification.encode_steps`), and the head reads the
hidden state h_t at the last token of step t's separator:

    V(prefix_t) = sigmoid(w . h_t + b)

Causal attention makes h_t depend only on the tokens up to step t, so one forward pass over a
trajectory gives the value of every prefix, equal to one pass per prefix; trajectories longer
than the token budget use the token-classification PRM's left-cut windows, which stay causal.
As a best-of-N critic, ``how=last`` ranks episodes by the value of the whole trajectory.

A saved value-head PRM directory holds the backbone (``AutoModel`` weights and config, LoRA
merged) with its tokenizer, the head in ``value_head.safetensors``, and the
``prmgym-prm.json`` marker with ``kind: value-head``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from prmgym.errors import ConfigError
from prmgym.rewards.learned.loading import calibrated, read_marker
from prmgym.rewards.learned.token_classification import (
    EncodedSteps,
    SeparatorReadout,
    scoring_windows,
)
from prmgym.rewards.render import RenderedTrajectory
from prmgym.trajectory import StepScore

HEAD_FILE = "value_head.safetensors"
"""File of a saved value-head PRM holding the regression head (``weight``, ``bias``)."""


class ValueHeadModel(torch.nn.Module):
    """A decoder backbone and a linear head giving one success logit per token.

    Args:
        backbone: A transformers base model (``AutoModel``: hidden states, no LM head), or a
            peft wrapper of one during LoRA training.
        head: The regression layer ``Linear(hidden, 1)``; a fresh one when None.
    """

    def __init__(self, backbone: Any, head: torch.nn.Linear | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        # Float32 whatever the backbone's dtype: the head is tiny and BCE wants precision.
        self.head = head if head is not None else torch.nn.Linear(backbone.config.hidden_size, 1)

    @classmethod
    def from_base(cls, base_model: str | Path) -> ValueHeadModel:
        """A causal LM's decoder (its LM head dropped) with a freshly initialised value head."""
        return cls(AutoModel.from_pretrained(base_model))

    @classmethod
    def load(cls, path: str | Path) -> ValueHeadModel:
        """The model :meth:`save` wrote to ``path``.

        Raises:
            ConfigError: ``path`` has no head file.
        """
        head_file = Path(path) / HEAD_FILE
        if not head_file.is_file():
            raise ConfigError(
                f"{path} is marked as a value-head PRM but has no {HEAD_FILE}; re-train it with"
                " `prmgym train-prm kind=value-head`"
            )
        state = load_file(head_file)
        head = torch.nn.Linear(state["weight"].shape[1], 1)
        head.load_state_dict(state)
        return cls(AutoModel.from_pretrained(path), head)

    def save(self, path: str | Path) -> None:
        """Write the backbone (``save_pretrained``) and the head to ``path``."""
        self.backbone.save_pretrained(path)
        state = {name: t.detach().contiguous().cpu() for name, t in self.head.state_dict().items()}
        save_file(state, str(Path(path) / HEAD_FILE))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Success logits at every position, shape ``(batch, length)``."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        return self.head(hidden.last_hidden_state.float()).squeeze(-1)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class ValueHeadPRM(SeparatorReadout):
    """A learned PRM whose step score is V(prefix up to the step) (arXiv 2510.23083).

    Args:
        path: A saved value-head PRM (backbone, tokenizer, head file and marker).
        device: Torch device to score on.
        batch_size: Sequences per forward pass (trajectories, windows or candidates).
        observation_chars: Characters of each observation shown; default: the marker's.
        max_length: Token budget of one sequence; default: the marker's.

    Raises:
        ConfigError: ``path`` is not a saved value-head PRM.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        batch_size: int = 8,
        observation_chars: int | None = None,
        max_length: int | None = None,
    ) -> None:
        path = Path(path)
        info = read_marker(path)
        if info.kind != "value-head":
            raise ConfigError(f"{path} holds a {info.kind} PRM, not a value-head one")
        self._attach(
            ValueHeadModel.load(path).to(device).eval(),
            AutoTokenizer.from_pretrained(path),
            observation_chars=(
                observation_chars if observation_chars is not None else info.observation_chars
            ),
            max_length=max_length or info.max_length,
            threshold=info.threshold,
            batch_size=batch_size,
            device=device,
        )

    @classmethod
    def from_model(
        cls,
        model: ValueHeadModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        observation_chars: int,
        max_length: int,
        batch_size: int = 8,
        device: str = "cpu",
    ) -> ValueHeadPRM:
        """A value-head PRM over a live model, used as it is (not copied) by a trainer."""
        prm = cls.__new__(cls)
        prm._attach(
            model,
            tokenizer,
            observation_chars=observation_chars,
            max_length=max_length,
            threshold=None,
            batch_size=batch_size,
            device=device,
        )
        return prm

    def _attach(
        self,
        model: ValueHeadModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        observation_chars: int,
        max_length: int,
        threshold: float | None,
        batch_size: int,
        device: str,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.observation_chars = observation_chars
        self.max_length = max_length
        self.threshold = threshold
        self.batch_size = batch_size
        self.device = device
        self.name = "value-head-prm"
        self.tokenizer = tokenizer
        self.model = model
        if self.max_length <= self._encode(RenderedTrajectory("", [])).prefix_tokens:
            raise ValueError(f"max_length {self.max_length} leaves no room for any token")

    def _score(self, value: float) -> StepScore:
        value = calibrated(value, self.threshold)
        # A value is a success estimate, not a verdict that the step is wrong: a low one is
        # "correctable", never the "fatal" that gates and pruning treat as a veto.
        label = "ok" if value >= 0.5 else "correctable"
        return StepScore(value=value, label=label, source=self.name)

    @torch.inference_mode()
    def step_values(
        self, requests: Sequence[tuple[EncodedSteps, Sequence[int] | None]]
    ) -> list[list[float]]:
        """V at the requested steps (None: all steps) of each encoded trajectory.

        All steps of a trajectory within the token budget share one forward pass.
        """
        results = [
            [0.0] * (len(e.step_ends) if steps is None else len(steps)) for e, steps in requests
        ]
        jobs = []
        for owner, (encoded, steps) in enumerate(requests):
            wanted = range(len(encoded.step_ends)) if steps is None else steps
            slot_of = {step: k for k, step in enumerate(wanted)}
            for window in scoring_windows(encoded, self.max_length, steps):
                jobs.append((owner, window.input_ids, window.positions, window.steps, slot_of))
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else 0
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            width = max(len(ids) for _, ids, _, _, _ in batch)
            # Right padding keeps every real token at its unbatched position, so a window
            # scores the same alone or in a batch.
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, window_ids, _, _, _) in enumerate(batch):
                ids[row, : len(window_ids)] = torch.tensor(window_ids)
                mask[row, : len(window_ids)] = 1
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
            logits = logits.double().cpu()
            for row, (owner, _, positions, steps, slot_of) in enumerate(batch):
                for position, step in zip(positions, steps, strict=True):
                    results[owner][slot_of[step]] = _sigmoid(float(logits[row, position]))
        return results
