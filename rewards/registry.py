"""Scorers by name, so configs and the CLI can say ``--prm verifier,rubric``.

=========================  ==========================================================
``verifier``               the env family's environment-aware verifier
``search-verifier``        a verifier by its own name (``swe-``, ``data-``, ``web-verifier``)
``rubric``                 the rubric agent with the family's default rubric (needs a judge)
``biprm``                  ``rubric`` judged left to right and right to left (BiPRM)
``hrm``                    ``rubric`` judging merged step pairs as well as steps (HRM)
``biprm+hrm``              both views at once
``path/to/rubric.yaml``    the rubric agent with your rubric (a file with ``criteria:``)
``path/to/mix.yaml``       a composite of scorers (a file with ``scorers:``)
``path/to/prm-dir``        a learned PRM saved by ``prmgym train-prm``
``package.module:Class``   your own scorer class, built without arguments
=========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from prmgym.errors import ConfigError
from prmgym.rewards.base import ProcessRewardModel
from prmgym.rewards.judges.base import Judge
from prmgym.rewards.rubrics.scoring import Scoring
from prmgym.yaml_files import read_yaml

SCORERS: dict[str, str] = {
    "search-verifier": "prmgym.rewards.verifiers.search:SearchVerifier",
    "swe-verifier": "prmgym.rewards.verifiers.swe:SWEVerifier",
    "data-verifier": "prmgym.rewards.verifiers.data:DataVerifier",
    "web-verifier": "prmgym.rewards.verifiers.web:WebVerifier",
}
"""Name -> lazy ``module:Class`` of every built-in verifier."""

VERIFIERS: dict[str, str] = {
    "search": "search-verifier",
    "swe": "swe-verifier",
    "data": "data-verifier",
    "web": "web-verifier",
}
"""Family -> the name of its verifier, for the ``verifier`` alias."""

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
        if family is None or family not in VERIFIERS:
            raise ConfigError(
                f"no verifier for family {family!r}; families with one: {', '.join(VERIFIERS)}"
            )
        name = VERIFIERS[family]
    if name in RUBRIC_VIEWS:
        from prmgym.rewards.rubrics.agent import RubricPRM

        return RubricPRM(judge=_judge(judge, name), name=name, scoring=RUBRIC_VIEWS[name])
    path = Path(name)
    if path.is_dir():
        from prmgym.rewards.learned.loading import load_learned_prm

        return load_learned_prm(path)
    if path.suffix in (".yaml", ".yml", ".json"):
        if not path.is_file():
            raise ConfigError(f"{path}: scorer file not found")
        return _from_file(path, family, judge)
    target = SCORERS.get(name, name if ":" in name else None)
    if target is None:
        raise ConfigError(
            f"unknown scorer {name!r}; built-in: verifier, {', '.join(RUBRIC_VIEWS)},"
            f" {', '.join(sorted(SCORERS))};"
            " or a rubric/mix YAML file, a trained PRM directory, or 'package.module:Class'"
        )
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)()
