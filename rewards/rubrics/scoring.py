"""Scoring options of a judge-based PRM: which views of a step the judge is asked about.

By default a step is judged once, after its history (left to right). Two options add views of
the same step, all sent in the same batched judge call:

- ``direction: bidirectional`` — BiPRM ("The Bidirectional Process Reward Model", arXiv
  2508.01682): a right-to-left pass too, built by reversing the step order in the prompt. The
  step is shown after the steps that *follow* it, latest first, so later steps help judge it.
- ``hierarchical: true`` — HRM ("Towards Hierarchical Multi-Step Reward Models for Enhanced
  Reasoning in Large Language Models", arXiv 2503.13551): the ``merge`` consecutive steps
  ending at the step are also judged as one merged step, so an error that a later step
  corrects (or compounds) is seen in context.

Each judged criterion's probability is the mean over the step's views; programmatic checks
and the rubric's aggregation then apply once, as without options, so gates and vetoes act on
one combined value. The mean is the parameter-free fusion (BiPRM's later version learns a gate,
which a judge has no data to train); for HRM it keeps a single-step error visible while the
merged view softens or sharpens it. For ``weighted_mean`` rubrics the mean of probabilities
equals the mean of the views' step scores.

Causality: the backward view of a step reads the steps after it, so bidirectional scores of
early steps change as the trajectory grows. Use it to score finished trajectories (``prmgym
eval-prm``, best-of-N, training on finished rollouts). Scoring a prefix — the
``ProcessReward`` wrapper, or ``score_candidates`` in test-time pruning — is BiPRM on that
prefix: the reversed prefix starts at its last step (the candidate), so the backward view of
the last step shows no other step. Hierarchical scoring reads only steps up to the judged one,
so it stays causal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Direction = Literal["forward", "bidirectional"]

BACKWARD_HEADER = (
    "The steps below are in reverse order, latest first; the step under review is the last"
    " one shown and happened before every other step shown.\n\n"
)
"""Tells the judge that the backward view lists steps latest first (BiPRM's reversed prompt)."""

MERGED_HEADER = "Consecutive steps, reviewed together as one step:\n"
"""Opens a merged window, so the judge reads the window (not its last step) as the step."""


class Scoring(BaseModel):
    """How many views of each step a judge-based PRM asks about (see the module docstring).

    Attributes:
        direction: ``forward`` (left to right only) or ``bidirectional`` (BiPRM: a
            right-to-left pass too; not causal).
        hierarchical: Also judge the ``merge`` consecutive steps ending at each step as one
            merged step (HRM); steps before the first full window are judged alone.
        merge: Steps per merged window, at least 2; only with ``hierarchical: true``.
    """

    model_config = {"extra": "forbid"}

    direction: Direction = "forward"
    hierarchical: bool = False
    merge: int = Field(default=2, ge=2)

    @model_validator(mode="after")
    def _merge_needs_hierarchical(self) -> Scoring:
        if "merge" in self.model_fields_set and not self.hierarchical:
            raise ValueError(
                f"merge: {self.merge} only applies to hierarchical scoring; add hierarchical: true"
            )
        return self


def forward_context(prompt: str, blocks: list[str]) -> str:
    """The task, then ``blocks`` in order: the history a step is judged after."""
    return (prompt + "".join(block + "\n\n" for block in blocks)).strip()


def backward_context(prompt: str, later: list[str]) -> str:
    """The task, then the steps after the judged one, latest first (BiPRM's reversed prompt).

    Step i's backward context is a prefix of step i-1's, so a prefix cache reuses it too.
    """
    return (prompt + BACKWARD_HEADER + "".join(b + "\n\n" for b in reversed(later))).strip()


def merged_step(blocks: list[str]) -> str:
    """Consecutive step blocks as one merged step (HRM)."""
    return MERGED_HEADER + "\n".join(blocks)


def step_views(scoring: Scoring, prompt: str, blocks: list[str], i: int) -> list[tuple[str, str]]:
    """The ``(context, step)`` pairs under which step ``i`` of ``blocks`` is judged.

    The forward view comes first and is the only one by default, unchanged by the options.
    """
    views = [(forward_context(prompt, blocks[:i]), blocks[i])]
    if scoring.direction == "bidirectional":
        views.append((backward_context(prompt, blocks[i + 1 :]), blocks[i]))
    if scoring.hierarchical and i + 1 >= scoring.merge:
        start = i + 1 - scoring.merge
        views.append((forward_context(prompt, blocks[:start]), merged_step(blocks[start : i + 1])))
    return views


def combine_views(answers: list[list[float]]) -> list[float]:
    """Per criterion, the mean of its probability over the views (one list per view)."""
    return [sum(column) / len(column) for column in zip(*answers, strict=True)]
