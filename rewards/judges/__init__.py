"""Judges: an LLM reads a step and a criterion and returns P(the step meets it).

``make_judge(backend)`` picks logit readout when the backend can report next-token log-probs
(transformers, vLLM, OpenAI-compatible servers) and a generative judge otherwise.
"""

from __future__ import annotations

from typing import Literal

from prmgym.errors import ConfigError
from prmgym.generation import ChoiceBackend, GenerationBackend
from prmgym.rewards.judges.base import Judge, JudgeQuery, Question
from prmgym.rewards.judges.generative import GenerativeJudge
from prmgym.rewards.judges.logit import LogitJudge

__all__ = ["GenerativeJudge", "Judge", "JudgeQuery", "LogitJudge", "Question", "make_judge"]


def make_judge(
    backend: GenerationBackend, mode: Literal["auto", "logit", "generative"] = "auto"
) -> Judge:
    """A judge over ``backend``: logit readout where possible (``auto``), or as asked."""
    if mode == "generative" or (mode == "auto" and not isinstance(backend, ChoiceBackend)):
        return GenerativeJudge(backend)
    if not isinstance(backend, ChoiceBackend):
        raise ConfigError(
            f"backend {backend.name!r} cannot report next-token log-probs, so it cannot judge by"
            " logit readout; use mode='generative'"
        )
    return LogitJudge(backend)
