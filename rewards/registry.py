"""Scorers by name, so configs and the CLI can say ``--prm verifier,rubric``.

=========================  ==========================================================
``verifier``               the env family's environment-aware verifier
``FAMILY-verifier``        a named family's verifier (``search-verifier``, ``swe-verifier``...)
``rubric``                 the rubric agent with the family's default rubric (needs a judge)
``biprm``                  ``rubric`` judged left to right and right to left (BiPRM)
``hrm``                    ``rubric`` judging merged step pairs as well as steps (HRM)
``biprm+hrm``              both views at once
``path/to/rubric.yaml``    the rubric agent with your rubric (a file with ``criteria:``)
``path/to/mix.yaml``       a composite of scorers (a file with ``scorers:``)
``path/to/prm-dir``        a learned PRM saved by ``prmgym train-prm``
``package.module:Class``   your own scorer class, built without arguments
=========================  ==========================================================

Verifiers and default rubrics are the pieces each family declares (``prmgym.family``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prmgym.errors import ConfigError
from prmgym.family import families, get_family, load_entry_point
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.judges.base import Judge
from prmgym.rewards.rubrics.scoring import Scoring
from prmgym.yaml_files import read_yaml

VERIFIER_SUFFIX = "-verifier"
"""``<family>-verifier`` names a family's verifier whatever family is being scored."""

RUBRIC_VIEWS: dict[str, Scoring | None] = {
    "rubric": None,
    "biprm": Scoring(direction="bidirectional"),
    "hrm": Scoring(hierarchical=True),
    "biprm+hrm": Scoring(direction="bidirectional", hierarchical=True),
}
"""The family-default rubric agent by name, with the scoring views each name turns on (see
:mod:`prmgym.rewards.rubrics.scoring`); a rubric file's own ``scoring:`` does the same."""

JudgeFactory = Callable[[], Judge]
"""Builds the judge on first need, so scorers that need none never load a model."""


def _verifier(family: str | None) -> ProcessRewardModel:
    """A new instance of the family's declared verifier."""
    if family is None or family not in families():
        with_one = [name for name, declared in families().items() if declared.verifier]
        raise ConfigError(
            f"no verifier for family {family!r}; families with one: {', '.join(with_one)}"
        )
    verifier: ProcessRewardModel = get_family(family).load("verifier")()
    return verifier


def _judge(factory: JudgeFactory | None, name: str) -> Judge:
    if factory is None:
        raise ConfigError(
            f"scorer {name!r} is scored by an LLM judge but none was given;"
            " pass --judge smollm2 (or any backend spec)"
        )
    return factory()


def _from_file(path: Path, family: str | None, judge: JudgeFactory | None) -> ProcessRewardModel:
    from prmgym.rewards.composite import CompositePRM
    from prmgym.rewards.rubrics.agent import RubricPRM
    from prmgym.rewards.rubrics.rubric import load_rubric

    data = read_yaml(path)
    if not isinstance(data, dict):
        data = {}  # reported below as neither a rubric nor a mix
    if "criteria" in data:
        rubric = load_rubric(path)
        has_judged = any(c.judged for c in rubric.criteria)
        return RubricPRM(rubric, _judge(judge, str(path)) if has_judged else None)
    if "scorers" in data:
        members = data["scorers"]
        if not isinstance(members, list) or not all(
            isinstance(m, dict) and "name" in m for m in members
        ):
            raise ConfigError(f"{path}: 'scorers' must be a list of {{name, weight, gate}} entries")
        return CompositePRM(
            [make_scorer(str(m["name"]), family=family, judge=judge) for m in members],
            weights=[float(m.get("weight", 1.0)) for m in members],
            gates=[bool(m.get("gate", False)) for m in members],
            name=data.get("name"),
        )
    raise ConfigError(f"{path}: expected a rubric (with 'criteria:') or a mix (with 'scorers:')")


def make_scorer(
    name: str, *, family: str | None = None, judge: JudgeFactory | None = None
) -> ProcessRewardModel:
    """Build a scorer from its spec (see the module docstring).

    Args:
        name: The spec.
        family: The env family being scored, to resolve ``verifier``.
        judge: Builds the judge for judged scorers; called only if one needs it.

    Raises:
        ConfigError: Unknown spec, missing family or judge, or a bad file.
    """
    if name == "verifier":
        return _verifier(family)
    if name.endswith(VERIFIER_SUFFIX) and name.removesuffix(VERIFIER_SUFFIX) in families():
        return _verifier(name.removesuffix(VERIFIER_SUFFIX))
    if name in RUBRIC_VIEWS:
        from prmgym.rewards.rubrics.agent import RubricPRM
        from prmgym.rewards.rubrics.rubric import default_rubric

        if family is not None:  # a family without a default rubric is refused now, not per step
            default_rubric(family)

        return RubricPRM(judge=_judge(judge, name), name=name, scoring=RUBRIC_VIEWS[name])
    path = Path(name)
    if path.is_dir():
        from prmgym.rewards.learned.loading import load_learned_prm

        return load_learned_prm(path)
    if path.suffix in (".yaml", ".yml", ".json"):
        if not path.is_file():
            raise ConfigError(f"{path}: scorer file not found")
        return _from_file(path, family, judge)
    if ":" not in name:
        named = [f"{f}{VERIFIER_SUFFIX}" for f, declared in families().items() if declared.verifier]
        raise ConfigError(
            f"unknown scorer {name!r}; built-in: verifier, {', '.join(RUBRIC_VIEWS)},"
            f" {', '.join(named)};"
            " or a rubric/mix YAML file, a trained PRM directory, or 'package.module:Class'"
        )
    scorer: ProcessRewardModel = load_entry_point(name)()
    return scorer
