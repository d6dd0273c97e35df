"""Suites: named, versioned task collections that ``prmgym eval --suite NAME`` runs.

A suite is a YAML file::

    name: search-lite
    version: 1
    description: ...
    env: prmgym/SearchQA-v0
    env_kwargs: {}
    split: test
    count: 50
    scorers: [search-verifier]

Built-in suites ship inside ``prmgym.envs.suites``; a path to a YAML file works anywhere a
suite name does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prmgym.errors import ConfigError
from prmgym.yaml_files import parse_yaml


class Suite(BaseModel):
    """A named, versioned collection of tasks from one env.

    Attributes:
        name: What ``--suite`` takes.
        version: Bumped whenever the task selection or grading changes.
        description: One line shown by ``prmgym suites``.
        env: Registered env id.
        env_kwargs: Constructor arguments passed to ``gymnasium.make``.
        split: Which task split to draw from.
        count: How many tasks (the first ``count`` of the split, in its fixed order).
        scorers: PRM names that score every step by default.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    version: int = 1
    description: str = ""
    env: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    split: str = "test"
    count: int = Field(default=50, gt=0)
    scorers: list[str] = Field(default_factory=list)


def _builtin_files() -> dict[str, Any]:
    root = resources.files("prmgym.envs.suites")
    return {p.name.removesuffix(".yaml"): p for p in root.iterdir() if p.name.endswith(".yaml")}


def load_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name, or a suite YAML by path."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        files = _builtin_files()
        if name_or_path not in files:
            raise ConfigError(
                f"unknown suite {name_or_path!r}; built-in suites: {', '.join(sorted(files))}"
                " (or pass a path to a suite .yaml file)"
            )
        text, source = files[name_or_path].read_text(encoding="utf-8"), name_or_path
    try:
        return Suite.model_validate(parse_yaml(text, source))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"suite {source}: field '{field}': {first['msg']}") from None


def builtin_suites() -> list[Suite]:
    """Every suite shipped with prmgym, sorted by name."""
    return [load_suite(name) for name in sorted(_builtin_files())]
