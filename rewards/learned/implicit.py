"""ImplicitPRM: process rewards from a policy/reference log-ratio (PRIME, arXiv 2502.01456).

PRIME trains a language model pi_phi with an outcome-level cross-entropy on
sigmoid(beta * log pi_phi(y) / pi_ref(y)), which makes it an implicit PRM: the reward of
step t is

    r_t = beta * sum over step t's action tokens y_j of log pi_phi(y_j | y_<j) / pi_ref(y_j | y_<j)

(PRIME Eq. 3, with tokens grouped into agent steps), and the implicit Q value after step t is
the cumulative sum sum_{s <= t} r_s. A step's value is sigmoid(Q_t): the probability the
episode so far leads to success.

pi_phi is a base model with a LoRA adapter (peft) and pi_ref is the same model with the adapter
disabled, so one saved directory holds both: ``base/`` (weights and tokenizer), ``adapter/``
(the peft adapter) and the ``prmgym-prm.json`` marker. Only the action text of a step is
scored (the rendering of :func:`~prmgym.rewards.render.render_action`); the observation that
follows it is context the agent did not write.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from prmgym.rewards.learned.loading import calibrated, read_marker
from prmgym.rewards.render import (
    STEP_SEPARATOR,
    RenderedTrajectory,
    render_action,
    render_trajectory,
)
from prmgym.trajectory import StepScore, Trajectory

BASE_DIR = "base"
"""Sub-directory of a saved implicit PRM holding the base model and tokenizer."""

ADAPTER_DIR = "adapter"
"""Sub-directory of a saved implicit PRM holding the peft (LoRA) adapter."""

DEFAULT_BETA = 0.05
"""PRIME's default reward scale."""


@dataclass(frozen=True)
class EncodedActions:
    """A rendered trajectory as token ids, with the span of each step's action tokens.

    Attributes:
        input_ids: bos (if any) + prompt + per step: action ids, result ids, separator ids.
        spans: For each step, ``(start, end)`` indices of its action tokens in ``input_ids``.
        prefix_tokens: How many leading tokens (the bos token) left truncation must keep.
    """

    input_ids: list[int]
    spans: list[tuple[int, int]]
    prefix_tokens: int


def encode_actions(
    tokenizer: PreTrainedTokenizerBase,
    rendered: RenderedTrajectory,
    actions: Sequence[str],
    separator: str = STEP_SEPARATOR,
) -> EncodedActions:
    """Tokenize a rendered trajectory, marking the tokens of each step's action.

    Each step block is split into its action part (``render_action(action)``, scored) and the
    rest (the result, context only); both are tokenized on their own and the separator ids
    follow, as in the token-classification layout.
    """
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    input_ids = bos + tokenizer(rendered.prompt, add_special_tokens=False)["input_ids"]
    separator_ids = tokenizer.encode(separator, add_special_tokens=False)
    spans = []
    for block, action in zip(rendered.steps, actions, strict=True):
        action_text = render_action(action)
        if not block.startswith(action_text):
            raise ValueError(f"step block {block[:40]!r} does not start with its action")
        action_ids = tokenizer(action_text, add_special_tokens=False)["input_ids"]
        rest = block[len(action_text) :]
        rest_ids = tokenizer(rest, add_special_tokens=False)["input_ids"] if rest else []
        spans.append((len(input_ids), len(input_ids) + len(action_ids)))
        input_ids += action_ids + rest_ids + separator_ids
    return EncodedActions(input_ids, spans, len(bos))


def action_windows(
    encoded: EncodedActions, max_length: int, steps: Sequence[int] | None = None
) -> list[tuple[list[int], list[tuple[int, int]], list[int]]]:
    """Windows of at most ``max_length`` tokens that hold the action spans of ``steps``.

    Returns ``(input_ids, spans, steps)`` per window. Steps whose action ends within the first
    ``max_length`` tokens share a window from the start; each later step gets a window ending
    at its action, cut from the left after the kept prefix, so every step's reward depends
    only on tokens up to its own action (causal).
    """
    wanted = range(len(encoded.spans)) if steps is None else steps
    head = [i for i in wanted if encoded.spans[i][1] <= max_length]
    windows = []
    if head:
        end = max(encoded.spans[i][1] for i in head)
        windows.append((encoded.input_ids[:end], [encoded.spans[i] for i in head], list(head)))
    keep = encoded.input_ids[: encoded.prefix_tokens]
    budget = max_length - len(keep)
    for i in wanted:
        start, end = encoded.spans[i]
        if end <= max_length:
            continue
        shift = end - budget - len(keep)
        # A token's log-prob needs one token before it, so an action longer than the window
        # loses its first tokens rather than the window growing.
        span = (max(start - shift, len(keep), 1), end - shift)
        windows.append((keep + encoded.input_ids[end - budget : end], [span], [i]))
    return windows


def token_log_probs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Log-probs log p(x_j | x_<j) for j >= 1, shape ``(batch, length - 1)``, of a causal LM."""
    logits = logits[:, :-1].float()
    targets = input_ids[:, 1:].unsqueeze(-1)
    return logits.gather(-1, targets).squeeze(-1) - logits.logsumexp(dim=-1)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class ImplicitPRM:
    """PRIME's implicit PRM: value of step t = sigmoid(sum_{s<=t} r_s).

    Args:
        path: A saved implicit PRM (``base/``, ``adapter/`` and the marker).
        beta: Reward scale; default: the marker's (what training used), else 0.05.
        device: Torch device to score on.
        batch_size: Sequences per forward pass.
        observation_chars: Characters of each observation shown; default: the marker's.
        max_length: Token budget of one sequence; default: the marker's.
    """

    def __init__(
        self,
        path: str | Path,
        beta: float | None = None,
        device: str = "cpu",
        batch_size: int = 8,
        observation_chars: int | None = None,
        max_length: int | None = None,
    ):
        path = Path(path)
        info = read_marker(path)
        base = AutoModelForCausalLM.from_pretrained(path / BASE_DIR)
        self._attach(
            PeftModel.from_pretrained(base, path / ADAPTER_DIR).to(device).eval(),
            AutoTokenizer.from_pretrained(path / BASE_DIR),
            beta=beta if beta is not None else (info.beta or DEFAULT_BETA),
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
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        *,
        beta: float = DEFAULT_BETA,
        observation_chars: int,
        max_length: int,
        batch_size: int = 8,
        device: str = "cpu",
    ) -> ImplicitPRM:
        """An implicit PRM over a live peft model (pi_phi; its disabled adapter is pi_ref).

        The model is used as it is, not copied: a trainer that keeps updating its adapter
        (an online PRM) is scored with at once.
        """
        prm = cls.__new__(cls)
        prm._attach(
            model,
            tokenizer,
            beta=beta,
            observation_chars=observation_chars,
            max_length=max_length,
            threshold=None,
            batch_size=batch_size,
            device=device,
        )
        return prm

    def _attach(
        self,
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        *,
        beta: float,
        observation_chars: int,
        max_length: int,
        threshold: float | None,
        batch_size: int,
        device: str,
    ) -> None:
        if beta <= 0:
            raise ValueError(f"beta must be positive, got {beta}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.beta = beta
        self.observation_chars = observation_chars
        self.max_length = max_length
        self.threshold = threshold
        self.batch_size = batch_size
        self.device = device
        self.name = "implicit-prm"
        self.tokenizer = tokenizer
        self.model = model

    def _encode(self, rendered: RenderedTrajectory, actions: Sequence[str]) -> EncodedActions:
        return encode_actions(self.tokenizer, rendered, actions)

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """The sigmoid of the implicit Q after every step; ``env`` is not used."""
        return self.score_many([trajectory])[0]

    def score_many(self, trajectories: Sequence[Trajectory]) -> list[list[StepScore]]:
        """Score every step of several trajectories, batching across them."""
        requests = []
        for trajectory in trajectories:
            rendered = render_trajectory(trajectory, self.observation_chars)
            actions = [step.action for step in trajectory.steps]
            requests.append((self._encode(rendered, actions), None))
        results = []
        for rewards in self.step_rewards(requests):
            q, scores = 0.0, []
            for reward in rewards:
                q += reward
                scores.append(self._score(q))
            results.append(scores)
        return results

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """The sigmoid of (Q after the trajectory + r of each candidate action), in one batch."""
        rendered = render_trajectory(trajectory, self.observation_chars)
        actions = [step.action for step in trajectory.steps]
        requests = [(self._encode(rendered, actions), None)]
        for action in candidate_actions:
            extended = RenderedTrajectory(rendered.prompt, [*rendered.steps, render_action(action)])
            requests.append((self._encode(extended, [*actions, action]), [len(actions)]))
        history, *candidates = self.step_rewards(requests)
        q = sum(history)
        return [self._score(q + rewards[0]) for rewards in candidates]

    def _score(self, q: float) -> StepScore:
        value = calibrated(_sigmoid(q), self.threshold)
        label = "ok" if value >= 0.5 else "correctable"
        rationale = f"implicit Q = {q:.4f}"
        return StepScore(value=value, label=label, rationale=rationale, source=self.name)

    @torch.inference_mode()
    def step_rewards(
        self, requests: Sequence[tuple[EncodedActions, Sequence[int] | None]]
    ) -> list[list[float]]:
        """r_t (PRIME Eq. 3) at the requested steps (None: all) of each encoded trajectory."""
        results = [[0.0] * (len(e.spans) if steps is None else len(steps)) for e, steps in requests]
        jobs = []
        for owner, (encoded, steps) in enumerate(requests):
            wanted = range(len(encoded.spans)) if steps is None else steps
            slot_of = {step: k for k, step in enumerate(wanted)}
            for ids, spans, window_steps in action_windows(encoded, self.max_length, steps):
                jobs.append((owner, ids, spans, [slot_of[s] for s in window_steps]))
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else 0
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            width = max(len(ids) for _, ids, _, _ in batch)
            # Right padding: real tokens keep their unbatched positions.
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, ids, _, _) in enumerate(batch):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                mask[row, : len(ids)] = 1
            input_ids, mask = input_ids.to(self.device), mask.to(self.device)
            policy = self.model(input_ids=input_ids, attention_mask=mask).logits
            with self.model.disable_adapter():
                reference = self.model(input_ids=input_ids, attention_mask=mask).logits
            ratio = token_log_probs(policy, input_ids) - token_log_probs(reference, input_ids)
            ratio = ratio.double().cpu()
            for row, (owner, _, spans, slots) in enumerate(batch):
                for (first, end), slot in zip(spans, slots, strict=True):
                    # Token j's log-prob sits at column j - 1 of ``ratio``.
                    results[owner][slot] = self.beta * float(ratio[row, first - 1 : end - 1].sum())
        return results
