"""TokenClassificationPRM: P(good) read at each step separator (Qwen2.5-Math-PRM style).

The model is an ``AutoModelForTokenClassification`` with two labels (0 = bad, 1 = good), as
TRL's ``PRMTrainer`` trains it. A trajectory is laid out exactly as ``PRMTrainer.tokenize_row``
lays out a row: the bos token (when the tokenizer has one), the prompt, then each step block
tokenized on its own with the separator ids appended; a step's score is read at the last token
of its separator. Rendering comes from :mod:`prmgym.rewards.render`, as in training.

Causality: the Llama-style backbone attends causally, so the logits at a step's separator
depend only on the tokens before it. Sequences longer than the token budget are cut from the
left (after the bos token) in a window that ends at the step being read, so a step's window
never depends on later steps either, and no step position is ever dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizerBase

from prmgym.rewards.learned.loading import MARKER_FILE, calibrated, read_marker
from prmgym.rewards.render import (
    OBSERVATION_CHARS,
    STEP_SEPARATOR,
    RenderedTrajectory,
    render_action,
    render_trajectory,
)
from prmgym.trajectory import StepScore, Trajectory

GOOD_LABEL = 1
"""Class index of "good" in the two-label head (TRL maps a True step label to 1)."""


@dataclass(frozen=True)
class EncodedSteps:
    """A rendered trajectory as token ids, with the position of each step's last token.

    Attributes:
        input_ids: bos (if any) + prompt ids + each step's ids followed by the separator ids.
        step_ends: For each step, the index in ``input_ids`` of its separator's last token.
        prefix_tokens: How many leading tokens (the bos token) left truncation must keep.
    """

    input_ids: list[int]
    step_ends: list[int]
    prefix_tokens: int


def encode_steps(
    tokenizer: PreTrainedTokenizerBase,
    rendered: RenderedTrajectory,
    separator: str = STEP_SEPARATOR,
) -> EncodedSteps:
    """Tokenize a rendered trajectory the way TRL's ``PRMTrainer.tokenize_row`` does.

    The prompt and every step are tokenized separately without special tokens, the separator
    ids are appended to each step, and the bos token (when the tokenizer defines one) is put
    before the prompt. Nothing is truncated here.
    """
    prompt_ids = tokenizer(rendered.prompt, add_special_tokens=False)["input_ids"]
    separator_ids = tokenizer.encode(separator, add_special_tokens=False)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    input_ids = bos + list(prompt_ids)
    step_ends = []
    for step in rendered.steps:
        input_ids += tokenizer(step, add_special_tokens=False)["input_ids"] + separator_ids
        step_ends.append(len(input_ids) - 1)
    return EncodedSteps(input_ids, step_ends, len(bos))


@dataclass(frozen=True)
class ScoringWindow:
    """One sequence to run through the model and the positions to read in it.

    Attributes:
        input_ids: The tokens of the window.
        positions: Indices in ``input_ids`` whose logits score a step.
        steps: The step index each position scores.
    """

    input_ids: list[int]
    positions: list[int]
    steps: list[int]


def scoring_windows(
    encoded: EncodedSteps, max_length: int, steps: Sequence[int] | None = None
) -> list[ScoringWindow]:
    """The windows that score ``steps`` (default: all) within ``max_length`` tokens each.

    Steps whose separator lies within the first ``max_length`` tokens share one window that
    starts at the beginning. Each later step gets its own window: the kept prefix (bos) and the
    last tokens up to and including its separator, so the prompt is cut from the left and
    every window depends only on tokens up to the step it scores (causal).
    """
    wanted = range(len(encoded.step_ends)) if steps is None else steps
    head = [i for i in wanted if encoded.step_ends[i] < max_length]
    windows = []
    if head:
        end = max(encoded.step_ends[i] for i in head) + 1
        windows.append(
            ScoringWindow(encoded.input_ids[:end], [encoded.step_ends[i] for i in head], list(head))
        )
    keep = encoded.input_ids[: encoded.prefix_tokens]
    tail_budget = max_length - len(keep)
    for i in wanted:
        end = encoded.step_ends[i] + 1
        if end <= max_length:
            continue
        window = keep + encoded.input_ids[end - tail_budget : end]
        windows.append(ScoringWindow(window, [len(window) - 1], [i]))
    return windows


def _step_label(value: float) -> str:
    # A two-label head learns "this is a wrong step", not whether the episode can still
    # recover, so a low score is reported as "correctable": a learned guess never claims
    # "fatal", which rubric gates and pruning treat as a veto.
    return "ok" if value >= 0.5 else "correctable"


class SeparatorReadout(ABC):
    """A learned PRM that reads one value per step at the step's separator token.

    The shared scoring loop of the token-classification and value-head PRMs: render the
    trajectory, encode it with step separators, read every step's value in one batched pass
    (:meth:`step_values`), and turn values into scores (:meth:`_score`). A candidate next
    action is scored as the last step of the trajectory extended by it, without a result.
    """

    tokenizer: PreTrainedTokenizerBase
    observation_chars: int

    @abstractmethod
    def step_values(
        self, requests: Sequence[tuple[EncodedSteps, Sequence[int] | None]]
    ) -> list[list[float]]:
        """The value at the requested steps (None: all steps) of each encoded trajectory."""

    @abstractmethod
    def _score(self, value: float) -> StepScore:
        """The step score of a value read at a separator."""

    def _encode(self, rendered: RenderedTrajectory) -> EncodedSteps:
        return encode_steps(self.tokenizer, rendered)

    def score(self, trajectory: Trajectory, env: Any = None) -> list[StepScore]:
        """Every step's score, read at its separator; ``env`` is not used."""
        return self.score_many([trajectory])[0]

    def score_many(self, trajectories: Sequence[Trajectory]) -> list[list[StepScore]]:
        """Score every step of several trajectories, batching across them."""
        encoded = [self._encode(render_trajectory(t, self.observation_chars)) for t in trajectories]
        values = self.step_values([(e, None) for e in encoded])
        return [[self._score(v) for v in row] for row in values]

    def score_candidates(
        self, trajectory: Trajectory, candidate_actions: Sequence[str], env: Any = None
    ) -> list[StepScore]:
        """Each candidate next action's score, rendered without a result, in one batch."""
        rendered = render_trajectory(trajectory, self.observation_chars)
        requests = []
        for action in candidate_actions:
            extended = RenderedTrajectory(rendered.prompt, [*rendered.steps, render_action(action)])
            requests.append((self._encode(extended), [len(extended.steps) - 1]))
        return [self._score(row[0]) for row in self.step_values(requests)]


class TokenClassificationPRM(SeparatorReadout):
    """A learned PRM reading P(good) at each step separator of a token-classification model.

    Args:
        path: A directory holding the model and tokenizer (``save_pretrained`` output), and
            optionally the ``prmgym-prm.json`` marker written by the trainer.
        device: Torch device to score on.
        batch_size: Sequences per forward pass (trajectories, windows or candidates).
        observation_chars: Characters of each observation shown; default: the marker's value
            (what training used), else the renderer's default.
        max_length: Token budget of one sequence; default: the marker's, else 1024.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        batch_size: int = 8,
        observation_chars: int | None = None,
        max_length: int | None = None,
    ):
        path = Path(path)
        info = read_marker(path) if (path / MARKER_FILE).is_file() else None
        self.observation_chars = (
            observation_chars
            if observation_chars is not None
            else (info.observation_chars if info else OBSERVATION_CHARS)
        )
        self.max_length = max_length or (info.max_length if info else 1024)
        self.threshold = info.threshold if info else None
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = device
        self.name = "token-classification-prm"
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForTokenClassification.from_pretrained(path).to(device).eval()
        if self.model.config.num_labels != 2:
            raise ValueError(
                f"{path} has {self.model.config.num_labels} labels; a token-classification "
                "PRM needs 2 (bad, good). Train one with `prmgym train-prm`"
            )
        if self.max_length <= self._encode(RenderedTrajectory("", [])).prefix_tokens:
            raise ValueError(f"max_length {self.max_length} leaves no room for any token")

    def _score(self, value: float) -> StepScore:
        value = calibrated(value, self.threshold)
        return StepScore(value=value, label=_step_label(value), source=self.name)

    @torch.inference_mode()
    def step_values(
        self, requests: Sequence[tuple[EncodedSteps, Sequence[int] | None]]
    ) -> list[list[float]]:
        """P(good) at the requested steps (None: all steps) of each encoded trajectory."""
        results = [
            [0.0] * (len(e.step_ends) if steps is None else len(steps)) for e, steps in requests
        ]
        jobs = []
        for owner, (encoded, steps) in enumerate(requests):
            wanted = range(len(encoded.step_ends)) if steps is None else steps
            slot_of = {step: k for k, step in enumerate(wanted)}
            for window in scoring_windows(encoded, self.max_length, steps):
                jobs.append((owner, window, [slot_of[s] for s in window.steps]))
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else 0
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            width = max(len(window.input_ids) for _, window, _ in batch)
            # Right padding keeps every real token at the position it has unbatched, so a
            # window scores the same alone or in a batch.
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, window, _) in enumerate(batch):
                ids[row, : len(window.input_ids)] = torch.tensor(window.input_ids)
                mask[row, : len(window.input_ids)] = 1
            logits = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            probs = logits.float().softmax(dim=-1)[..., GOOD_LABEL].cpu()
            for row, (owner, window, slots) in enumerate(batch):
                for position, slot in zip(window.positions, slots, strict=True):
                    results[owner][slot] = float(probs[row, position])
        return results
