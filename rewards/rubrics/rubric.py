"""Rubric and Criterion: what a rubric agent scores a step against, loadable from YAML or JSON.

A rubric is a list of weighted criteria (RaR, arXiv 2507.17746; OpenRubrics, 2510.07743)::

    name: search-default
    family: search
    aggregation: gated          # weighted_mean | gated | min | product | harmonic_mean
    completion_tools: [answer]  # a step with one of these tools completes the episode
    criteria:
      - id: well-formed
        kind: hard_rule         # hard_rule | principle | pitfall
        text: The action is one well-formed tool call.
        check: parses           # a programmatic check; without one a judge scores it
      - id: targeted-query
        kind: principle
        weight: 2
        tools: [search]         # only for steps calling these tools
        text: The query names the function, module or concept the question asks about.
      - id: unsupported-answer
        kind: pitfall           # pitfalls carry negative weights: 1 = the step shows it
        weight: -1
        applies: on_completion  # each_step (default) | on_completion
        text: The answer is given before any document supporting it was read.
    scoring:                    # optional; how many views of each step the judge reads
      direction: forward        # forward | bidirectional: also right to left (BiPRM)
      hierarchical: false       # true: also judge merged consecutive steps (HRM)
      merge: 2                  # steps per merged window (with hierarchical: true)

A criterion marked ``fatal: true`` vetoes: when it is unmet the step scores 0 under every
aggregation. Hard rules gate the ``gated`` aggregation. ``scoring`` is explained in
``prmgym.rewards.rubrics.scoring``: ``bidirectional`` follows "The Bidirectional Process Reward
Model" (BiPRM, arXiv 2508.01682) and is not causal, so it is for finished trajectories;
``hierarchical`` follows "Towards Hierarchical Multi-Step Reward Models" (HRM, arXiv
2503.13551). A judged criterion scores the mean of its views.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from prmgym.errors import ConfigError
from prmgym.family import get_family
from prmgym.rewards.aggregation import CriteriaAggregation
from prmgym.rewards.rubrics.scoring import Scoring
from prmgym.yaml_files import read_yaml

CriterionKind = Literal["hard_rule", "principle", "pitfall"]
Applies = Literal["each_step", "on_completion"]


class CheckSpec(BaseModel):
    """A programmatic check by name, with its arguments (see ``prmgym.rewards.rubrics.checks``)."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Criterion(BaseModel):
    """One thing a good step does (or, for a pitfall, does not do).

    Attributes:
        id: Short unique name, shown in rationales.
        text: The criterion as a judge reads it.
        kind: ``hard_rule`` (must hold; gates ``gated``), ``principle`` (should hold) or
            ``pitfall`` (a known failure; negative weight, score 1 = the step shows it).
        weight: Importance; default 1 (-1 for pitfalls).
        fatal: Unmet means the step scores 0, whatever the aggregation.
        check: A programmatic check; None means a judge scores the criterion.
        applies: ``each_step``, or ``on_completion`` for only the step that completes the episode.
        tools: Only steps calling one of these tools are scored on it; None means every step.
    """

    model_config = {"extra": "forbid"}

    id: str
    text: str
    kind: CriterionKind = "principle"
    weight: float | None = None
    fatal: bool = False
    check: CheckSpec | None = None
    applies: Applies = "each_step"
    tools: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_shorthand(cls, data: Any) -> Any:
        # ``check: parses`` is shorthand for ``check: {name: parses}``.
        if isinstance(data, dict) and isinstance(data.get("check"), str):
            data = {**data, "check": {"name": data["check"]}}
        return data

    @model_validator(mode="after")
    def _default_weight(self) -> Criterion:
        if self.weight is None:
            self.weight = -1.0 if self.kind == "pitfall" else 1.0
        if self.kind == "pitfall" and self.weight > 0:
            raise ValueError(
                f"pitfall {self.id!r} has weight {self.weight}; pitfalls carry negative weights"
                f" (RaR), write weight: {-self.weight}"
            )
        if self.kind != "pitfall" and self.weight < 0:
            raise ValueError(
                f"{self.kind} {self.id!r} has a negative weight; only pitfalls are negative"
                " (make it kind: pitfall, or give a positive weight)"
            )
        return self

    @property
    def judged(self) -> bool:
        """Whether a judge (not a programmatic check) scores this criterion."""
        return self.check is None


class Rubric(BaseModel):
    """Weighted criteria and how to combine them into a step value.

    Attributes:
        name: Identifies the rubric in scores' ``source``.
        family: The env family it was written for (informational).
        aggregation: How criterion scores combine (see ``prmgym.rewards.aggregation``).
        completion_tools: Tools whose call completes the episode (``on_completion`` criteria).
        criteria: The criteria, at least one.
        scoring: Which views of each step the judge reads (BiPRM, HRM); default forward only.
    """

    model_config = {"extra": "forbid"}

    name: str
    family: str = ""
    aggregation: CriteriaAggregation = "gated"
    completion_tools: list[str] = Field(default_factory=list)
    criteria: list[Criterion] = Field(min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValueError(f"two criteria have the id {criterion.id!r}; ids must be unique")
            seen.add(criterion.id)
        return self


def load_rubric(path: str | Path) -> Rubric:
    """Read a rubric from a YAML or JSON file (JSON is YAML), with errors naming the field.

    Raises:
        ConfigError: The file is missing, not YAML (the message names the line), empty, or not
            a valid rubric; the message names the file and the offending field.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: rubric file not found")
    data = read_yaml(path)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'rubric'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: invalid rubric: {problems}") from None


def default_rubric(family: str) -> Rubric:
    """The default rubric of an env family: its declaration's ``rubric`` piece.

    The piece names a Rubric object, or a rubric YAML shipped in a package (the built-in
    families' live in ``prmgym/rewards/rubrics/defaults/``).

    Raises:
        ConfigError: An unknown family, one that declares no rubric, or a piece that is neither
            a Rubric nor a rubric file; the message says how to pass one instead.
    """
    try:
        piece = get_family(family).load("rubric")
    except ConfigError as exc:
        raise ConfigError(f"{exc}; or pass your own with --prm path/to/rubric.yaml") from None
    if isinstance(piece, Rubric):
        return piece
    if isinstance(piece, Traversable):
        with resources.as_file(piece) as path:
            return load_rubric(path)
    raise ConfigError(
        f"family {family!r}: its rubric piece is a {type(piece).__name__}, not a Rubric or a"
        " rubric file"
    )
