"""Reading YAML files whose errors name the file and the line, never a parser traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prmgym.errors import ConfigError
from prmgym.jsonl import location


def parse_yaml(text: str, source: str | Path) -> Any:
    """The YAML document in ``text``, read from ``source`` (named in errors).

    Raises:
        ConfigError: The text is not YAML (the message gives ``source``, line and column, as
            the parser found them) or holds nothing (empty, or only comments).
    """
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{location(source, mark.line + 1)}, column {mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    if loaded is None:
        raise ConfigError(f"{source} is empty; it should hold settings as YAML")
    return loaded


def read_yaml(path: str | Path) -> Any:
    """The YAML document in the file at ``path``; see :func:`parse_yaml`.

    Raises:
        ConfigError: The file cannot be read, is not YAML, or is empty.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_yaml(text, path)
