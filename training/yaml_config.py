"""Config dataclasses from YAML files plus ``KEY=VALUE`` overrides.

Every training command reads its settings the same way::

    config = load_dataclass(TrainConfig, "configs/quickstart.yaml", ["rollout.group_size=8"])

Nested dataclass fields are YAML mappings and are reached by dotted keys in overrides; a field
typed ``Section | None`` is off when the YAML says ``null`` and on (with its defaults) when
given a mapping. Unknown keys and bad values raise :class:`~prmgym.errors.ConfigError` naming
the field; each dataclass validates itself in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from prmgym.errors import ConfigError
from prmgym.yaml_files import read_yaml

T = TypeVar("T")


def _section(hint: Any) -> type | None:
    """The dataclass a field holds (``Section`` or ``Section | None``), else None."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1 and dataclasses.is_dataclass(inner[0]):
            return inner[0]
    return None


def build_dataclass(cls: type[T], values: dict[str, Any], prefix: str = "") -> T:
    """``cls(**values)`` with nested sections built, numbers coerced and unknown keys named."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown field(s) {', '.join(prefix + u for u in unknown)}; "
            f"known: {', '.join(prefix + k for k in sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    built: dict[str, Any] = {}
    for key, value in values.items():
        section = _section(hints[key])
        if section is not None and value is not None and not dataclasses.is_dataclass(value):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix + key} must be a mapping of its fields (or null)")
            value = build_dataclass(section, value, f"{prefix}{key}.")
        built[key] = _coerce(prefix + key, hints[key], value)
    try:
        return cls(**built)
    except TypeError as exc:
        raise ConfigError(f"bad {prefix.rstrip('.') or 'config'} values: {exc}") from None


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Numbers YAML read as text (``5e-4`` is a string in YAML 1.1) become the field's type."""
    if hint not in (int, float) or isinstance(value, bool):
        return value
    kind = "a whole number" if hint is int else "a number"
    if isinstance(value, int | float):
        if hint is int and not float(value).is_integer():
            raise ConfigError(f"{name} must be {kind}, got {value!r}")
        return hint(value)
    try:
        return hint(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be {kind}, got {value!r}") from None


def apply_override(values: dict[str, Any], override: str) -> None:
    """Set ``KEY=VALUE`` (value parsed as YAML; dotted keys reach into sections) in ``values``."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r} is not KEY=VALUE, e.g. epochs=2 or data.count=50")
    *parents, leaf = key.strip().split(".")
    target = values
    for parent in parents:
        if target.get(parent) is None:
            target[parent] = {}
        target = target[parent]
        if not isinstance(target, dict):
            raise ConfigError(f"override {override!r}: {parent} is not a section")
    try:
        target[leaf] = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(
            f"override {override!r}: {raw!r} is not a YAML value; quote text, e.g. {key}='...'"
        ) from None


def load_dataclass(
    cls: type[T],
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    example: str = "configs/",
) -> T:
    """Read ``cls`` from a YAML mapping (or its defaults when ``path`` is None) plus overrides.

    Args:
        cls: The config dataclass.
        path: A YAML file holding a mapping of ``cls``'s fields.
        overrides: ``KEY=VALUE`` strings, values parsed as YAML.
        example: A config file to point to when ``path`` is missing.

    Raises:
        ConfigError: The file is missing, not YAML (the message names file and line), empty
            or not a mapping, a key is unknown, or a value fails validation; the message says
            which and how to fix it.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; see {example}")
        loaded = read_yaml(path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of {cls.__name__} fields")
        values = loaded
    for override in overrides:
        apply_override(values, override)
    return build_dataclass(cls, values)


def to_yaml(config: Any) -> str:
    """A config dataclass as YAML that :func:`load_dataclass` reads back."""
    return yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
