"""Scaffolding a new environment family as an installable plugin package (``prmgym new-env``).

The package's files are templates shipped in ``prmgym/templates/new_env/``: each ``*.tmpl``
file is the generated file with placeholders, and a ``PACKAGE`` folder in a path becomes the
package's name. Placeholders are ``{{name}}`` (the package, family and env namespace),
``{{Name}}`` (its CamelCase, for class names) and ``{{env_id}}``. The generated package runs a
toy task end to end, passes its own tests and ``prmgym check`` as generated, and is meant to
be edited piece by piece into the user's own family.

Example:
    >>> validate_name("inventory")
    'inventory'
    >>> env_id_for("shop_calc")
    'shop_calc/ShopCalc-v0'
    >>> validate_name("json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    prmgym.errors.ConfigError: NAME 'json' would shadow Python's or prmgym's own module 'json'; ...
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from prmgym.errors import ConfigError
from prmgym.family import families

TEMPLATES = "templates/new_env"
"""Where the templates live, inside the ``prmgym`` package."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{\{\w+\}\}")
_RESERVED = {"prmgym", "tests", "test", "src"}


def validate_name(name: str) -> str:
    """Check that ``name`` can be the package, family and env namespace; return it.

    Raises:
        ConfigError: It is not a lowercase identifier, is a Python keyword, would shadow a
            standard-library module, prmgym or an importable module, or names a family
            already registered.
    """
    if not _NAME.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9_]", "_", name.lower()).lstrip("_0123456789") or "my_env"
        raise ConfigError(
            f"NAME {name!r} must be a lowercase Python identifier (letters, digits and _,"
            f" starting with a letter), e.g. {suggestion!r}"
        )
    if keyword.iskeyword(name) or name in sys.stdlib_module_names or name in _RESERVED:
        raise ConfigError(
            f"NAME {name!r} would shadow Python's or prmgym's own module {name!r};"
            f" choose another, e.g. '{name}_env'"
        )
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    # A namespace package (origin None) is only a folder on the path, such as an earlier
    # scaffold of this very name in the current folder; anything else would be shadowed.
    if spec is not None and spec.origin is not None:
        raise ConfigError(
            f"NAME {name!r} is taken: Python already imports a module {name!r} from"
            f" {spec.origin}; choose another, e.g. '{name}_env'"
        )
    if name in families():
        raise ConfigError(
            f"NAME {name!r} is the name of a registered family; choose another, e.g. '{name}_env'"
        )
    return name


def class_name(name: str) -> str:
    """``name`` in CamelCase, for the generated classes: ``shop_calc`` -> ``ShopCalc``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def env_id_for(name: str) -> str:
    """The env id the scaffold registers: ``name/Name-v0``."""
    return f"{name}/{class_name(name)}-v0"


def render(text: str, name: str) -> str:
    """A template's text with its placeholders filled in for ``name``."""
    values = {"name": name, "Name": class_name(name), "env_id": env_id_for(name)}
    filled = _PLACEHOLDER.sub(lambda match: values.get(match.group(0)[2:-2], match.group(0)), text)
    left = _PLACEHOLDER.search(filled)
    if left is not None:
        raise ValueError(f"template placeholder {left.group(0)} has no value")
    return filled


def _templates(
    folder: Traversable, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.is_dir():
            yield from _templates(entry, (*prefix, entry.name))
        elif entry.name.endswith(".tmpl"):
            yield (*prefix, entry.name.removesuffix(".tmpl")), entry


def planned_files(name: str) -> dict[str, str]:
    """Every file of the package for ``name``: relative path -> content."""
    root = resources.files("prmgym").joinpath(TEMPLATES)
    return {
        "/".join(name if part == "PACKAGE" else part for part in parts): render(
            template.read_text(encoding="utf-8"), name
        )
        for parts, template in _templates(root)
    }


def scaffold(name: str, output: Path, *, force: bool = False) -> list[Path]:
    """Write a new plugin package for family ``name`` into ``output``.

    Args:
        name: The package, family and env namespace (see :func:`validate_name`).
        output: The package's folder; created if missing.
        force: Write into a folder that already holds files, replacing those the scaffold
            writes (others are left alone).

    Returns:
        The files written.

    Raises:
        ConfigError: A bad name, an output folder that holds files (without ``force``) or
            is not a folder, or one that cannot be written.
    """
    validate_name(name)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise ConfigError(
            f"--output {output} already holds files; choose another folder, or pass --force to"
            " overwrite the scaffold's files in it"
        )
    written = []
    try:
        for relative, content in planned_files(name).items():
            path = output / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the package into {output}: {exc}") from None
    return written


__all__ = [
    "TEMPLATES",
    "class_name",
    "env_id_for",
    "planned_files",
    "render",
    "scaffold",
    "validate_name",
]
