"""An implicit PRM trained online, alternating with the policy (PRIME, arXiv 2502.01456).

A PRM trained once on yesterday's policy misjudges the steps of today's; PRIME keeps it current
by updating it every iteration on that iteration's own rollouts, with the outcome labels the
episodes already have. With ``rollout.prm: online-implicit`` the trainer, each iteration:

1. rolls out the groups (no scoring yet);
2. takes :attr:`OnlinePRMSettings.epochs` passes of PRIME's outcome cross-entropy (Eq. 4) over
   the non-broken episodes: label 1 for a success, 0 otherwise, on all the episode's actions;
3. scores every step with the updated PRM (value = sigmoid of the implicit Q, PRIME Eq. 3);
4. computes dual-granularity advantages from those scores and updates the policy.

The PRM is its own LoRA adapter on a separate copy of the policy's base model (PRIME starts it
from the policy's initial weights); the disabled adapter is the reference, so nothing else is
kept in memory. Its adapter and optimizer are checkpointed with the policy's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from prmgym.errors import ConfigError
from prmgym.rewards.learned.implicit import DEFAULT_BETA, ImplicitPRM
from prmgym.rewards.render import OBSERVATION_CHARS, render_trajectory
from prmgym.training.prm.implicit_trainer import (
    action_log_prob,
    action_token_example,
    implicit_prm_steps,
)
from prmgym.training.prm.train import resolve_base_model
from prmgym.training.samples import right_padded
from prmgym.trajectory import StepScore, Trajectory

SPEC = "online-implicit"
"""The ``rollout.prm`` value that selects the online implicit PRM."""


@dataclass
class OnlinePRMSettings:
    """The online implicit PRM (``rollout.prm: online-implicit``)."""

    beta: float = DEFAULT_BETA
    """Reward scale of the log-ratio (PRIME's default 0.05)."""

    learning_rate: float = 1e-4
    """AdamW learning rate of the PRM's adapter."""

    epochs: int = 1
    """Passes over each iteration's episodes."""

    batch_size: int = 4
    """Episodes per optimizer step."""

    lora_r: int = 8
    """Rank of the PRM's LoRA adapter (alpha = 2r)."""

    observation_chars: int = OBSERVATION_CHARS
    """Characters of each observation the PRM reads."""

    max_length: int = 1024
    """Most tokens of one scored episode (older steps are cut from the left)."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lora_r", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"online_prm.{name} must be at least 1, got {getattr(self, name)}"
                )
        if self.beta <= 0 or self.learning_rate <= 0:
            raise ConfigError(
                f"online_prm.beta and online_prm.learning_rate must be positive (e.g. 0.05 and "
                f"1e-4), got {self.beta} and {self.learning_rate}"
            )


class OnlineImplicitPRM:
    """An implicit PRM with :meth:`update` for outcome-labelled episodes; scores like any PRM.

    Args:
        base_model: The policy's base model (``smollm2``, a hub id or a local directory).
        settings: Learning rate, adapter and length settings.
        device: Torch device of the PRM.
        seed: Seed of the adapter's initialisation and the episode order.
    """

    def __init__(
        self,
        base_model: str,
        settings: OnlinePRMSettings,
        *,
        device: str = "cpu",
        seed: int = 0,
    ):
        self.settings = settings
        path = resolve_base_model(base_model)
        torch.manual_seed(seed)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        lora = LoraConfig(
            task_type="CAUSAL_LM",
            r=settings.lora_r,
            lora_alpha=2 * settings.lora_r,
            lora_dropout=0.0,
            target_modules="all-linear",
        )
        self.model = get_peft_model(model, lora).to(device).eval()
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=settings.learning_rate
        )
        self._scorer = ImplicitPRM.from_model(
            self.model,
            tokenizer,
            beta=settings.beta,
            observation_chars=settings.observation_chars,
            max_length=settings.max_length,
            batch_size=settings.batch_size,
            device=device,
        )
        self.name = self._scorer.name
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._order = random.Random(seed)

    def score(self, trajectory: Trajectory, env: object = None) -> list[StepScore]:
        """Step scores of one episode by the current PRM (``env`` is not used)."""
        return self._scorer.score(trajectory, env)

    def score_many(self, trajectories: Sequence[Trajectory]) -> list[list[StepScore]]:
        """Step scores of several episodes, batched."""
        return self._scorer.score_many(trajectories)

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: object = None
    ) -> list[StepScore]:
        """Scores of alternative next actions (see ``ImplicitPRM.score_candidates``)."""
        return self._scorer.score_candidates(trajectory, candidate_actions, env)

    def update(self, trajectories: Sequence[Trajectory]) -> dict[str, float]:
        """PRIME's outcome cross-entropy over the non-broken episodes with at least one step.

        Returns:
            ``prm/loss`` (mean over the optimizer steps), ``prm/accuracy`` (share of episodes
            whose implicit outcome, sigmoid(beta * log-ratio) >= 0.5, matched the label
            before the update) and ``prm/episodes``; empty when nothing was trainable.
        """
        episodes = [t for t in trajectories if t.error is None and t.steps]
        if not episodes:
            return {}
        tokenizer = self._scorer.tokenizer
        examples = []
        for trajectory in episodes:
            rendered = render_trajectory(trajectory, self.settings.observation_chars)
            row = {
                "prompt": rendered.prompt,
                "completions": rendered.steps,
                "actions": [step.action for step in trajectory.steps],
            }
            examples.append(action_token_example(tokenizer, row, self.settings.max_length))
        outcomes = torch.tensor([float(t.success) for t in episodes])
        size = self.settings.batch_size
        batches = [
            right_padded(examples[i : i + size], self._pad_id)
            for i in range(0, len(examples), size)
        ]
        with torch.no_grad():
            reference_parts, before_parts = [], []
            for batch in batches:
                before_parts.append(action_log_prob(self.model, batch))
                with self.model.disable_adapter():
                    reference_parts.append(action_log_prob(self.model, batch))
        reference, before = torch.cat(reference_parts), torch.cat(before_parts)
        predicted = (self.settings.beta * (before - reference)) >= 0
        losses = []
        self.model.train()
        for _ in range(self.settings.epochs):
            order = list(range(len(examples)))
            self._order.shuffle(order)
            losses.extend(
                implicit_prm_steps(
                    self.model,
                    self.optimizer,
                    examples,
                    reference,
                    outcomes,
                    beta=self.settings.beta,
                    order=order,
                    batch_size=size,
                    pad_id=self._pad_id,
                )
            )
        self.model.eval()
        return {
            "prm/loss": sum(losses) / len(losses),
            "prm/accuracy": float((predicted == outcomes.bool()).float().mean()),
            "prm/episodes": float(len(episodes)),
        }
