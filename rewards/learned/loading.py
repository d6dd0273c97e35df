"""The marker a saved learned PRM carries, and loading any learned PRM from its directory.

A trainer writes ``prmgym-prm.json`` beside the weights. It says which kind of PRM the
directory holds and how it reads a trajectory (observation characters, token budget, beta), so
scoring at test time renders steps exactly as training did. ``load_learned_prm`` dispatches on
it; a directory without the marker is refused with a message saying how to make one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prmgym.errors import ConfigError
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.render import OBSERVATION_CHARS

MARKER_FILE = "prmgym-prm.json"
"""Name of the marker file inside a saved learned-PRM directory."""

LearnedKind = Literal["token-classification", "implicit", "value-head"]
"""The learned PRM kinds prmgym trains and loads."""


class LearnedPRMInfo(BaseModel):
    """What a saved learned PRM is and how it reads trajectories.

    Attributes:
        kind: ``token-classification`` (P(good) at step separators), ``implicit`` (PRIME) or
            ``value-head`` (P(success | prefix) from a regression head, arXiv 2510.23083).
        base_model: The model the PRM was trained from (a local dir or hub id), for the record.
        observation_chars: Characters of each observation the PRM saw in training.
        max_length: Token budget of one scored sequence.
        beta: The implicit PRM's reward scale (PRIME's beta); None for other kinds.
        training: A summary of the training run (data, epochs, losses, wall time).
        threshold: The raw score that best separated first errors from good steps on
            held-out calibration items (first-error F1), or None. Scoring shifts the log-odds
            by it, so the reported 0.5 is that calibrated decision point.
    """

    model_config = ConfigDict(extra="forbid")

    kind: LearnedKind
    base_model: str = ""
    observation_chars: int = Field(default=OBSERVATION_CHARS, ge=0)
    max_length: int = Field(default=1024, ge=8)
    beta: float | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(default=None, gt=0.0, lt=1.0)


def write_marker(path: str | Path, info: LearnedPRMInfo) -> Path:
    """Write ``info`` as the marker of the PRM directory ``path`` and return the file."""
    target = Path(path) / MARKER_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return target


def read_marker(path: str | Path) -> LearnedPRMInfo:
    """Read the marker of a saved learned PRM.

    Raises:
        ConfigError: ``path`` is not a directory written by ``prmgym train-prm``, or its
            marker is malformed.
    """
    marker = Path(path) / MARKER_FILE
    if not marker.is_file():
        raise ConfigError(
            f"{path} is not a saved learned PRM: it has no {MARKER_FILE}. Train one with "
            "`prmgym train-prm --config configs/train-prm-search.yaml` and pass its output dir"
        )
    try:
        return LearnedPRMInfo.model_validate(json.loads(marker.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(
            f"{marker} is malformed ({exc}); re-save the PRM or fix the file "
            f"(fields: {', '.join(LearnedPRMInfo.model_fields)})"
        ) from None


def load_learned_prm(path: str | Path, device: str = "cpu") -> ProcessRewardModel:
    """Load the learned PRM saved in ``path``, whichever kind its marker names.

    Args:
        path: A directory written by a prmgym PRM trainer.
        device: Torch device to score on.

    Raises:
        ConfigError: ``path`` holds no (or a malformed) marker.
    """
    info = read_marker(path)
    # Imported here: each kind pulls in torch and transformers, which only loading needs.
    if info.kind == "token-classification":
        from prmgym.rewards.learned.token_classification import TokenClassificationPRM

        return TokenClassificationPRM(path, device=device)
    if info.kind == "value-head":
        from prmgym.rewards.learned.value_head import ValueHeadPRM

        return ValueHeadPRM(path, device=device)
    from prmgym.rewards.learned.implicit import ImplicitPRM

    return ImplicitPRM(path, device=device)


def calibrated(value: float, threshold: float | None) -> float:
    """Move a raw probability so that ``threshold`` lands on 0.5 (a shift of the log-odds).

    Order is kept, so rankings (best-of-N, AUROC) are unchanged; only where 0.5 falls moves.
    """
    if threshold is None:
        return value
    value = min(max(value, 1e-12), 1 - 1e-12)
    shift = math.log(threshold / (1 - threshold))
    return 1 / (1 + math.exp(-(math.log(value / (1 - value)) - shift)))
