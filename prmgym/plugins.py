"""Plugins: third-party families the command line imports before it looks anything up.

Three ways bring a plugin's code in, all of them only importing modules (a plugin registers its
families at import, with ``prmgym.register_family``):

- an installed package declaring the ``prmgym.plugins`` entry-point group, which names a module,
  or a callable run without arguments::

      [project.entry-points."prmgym.plugins"]
      sql = "sqlgym.family"

- ``prmgym --import MODULE`` (repeatable) or the ``PRMGYM_IMPORT`` variable (names separated by
  commas or ``os.pathsep``);
- an env id in Gymnasium's ``module:ns/Env-v0`` form, wherever an id is taken.

:func:`record` lists what was imported, so a run's ``config.yaml`` can say how to repeat it.

Example:
    >>> from prmgym.plugins import split_env_id
    >>> split_env_id("sqlgym.family:sql/SQL-v0")
    ('sqlgym.family', 'sql/SQL-v0')
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from importlib import import_module, metadata
from typing import Any

from prmgym.errors import ConfigError

GROUP = "prmgym.plugins"
"""The entry-point group a plugin package declares."""

ENV_VAR = "PRMGYM_IMPORT"
"""Modules to import before every command, separated by commas or ``os.pathsep``."""

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")

_modules: dict[str, None] = {}
"""Modules imported by name (``--import``, ``PRMGYM_IMPORT``, ``module:`` ids), in order."""

_plugins: dict[str, None] = {}
"""Entry points loaded, as ``name = value``."""


class PluginWarning(UserWarning):
    """An installed plugin could not be loaded; the command goes on without it."""


def import_modules(names: Iterable[str], *, source: str = "--import") -> list[str]:
    """Import each module named (once), recording it for :func:`record`.

    Args:
        names: Dotted module names.
        source: Where the names came from, for messages (``--import``, ``PRMGYM_IMPORT``).

    Returns:
        The names, in order.

    Raises:
        ConfigError: A name is not a module name, no such module exists, or importing it
            failed; the message names the module and what to do.
    """
    imported = []
    for name in names:
        if not _MODULE.fullmatch(name):
            raise ConfigError(f"{source} {name!r} is not a module name, e.g. 'sqlgym.family'")
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name + ".").startswith(exc.name + "."):
                raise ConfigError(
                    f"{source} {name}: no module named {exc.name!r}; install the package that"
                    " provides it, or add its folder to PYTHONPATH"
                ) from None
            raise ConfigError(f"{source} {name}: importing it failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a plugin's own bug, reported as one line
            raise ConfigError(
                f"{source} {name}: importing it failed: {type(exc).__name__}: {exc}"
            ) from None
        _modules[name] = None
        imported.append(name)
    return imported


def env_var_modules(value: str | None = None) -> list[str]:
    """The module names in ``PRMGYM_IMPORT`` (or ``value``): comma or ``os.pathsep`` separated."""
    text = os.environ.get(ENV_VAR, "") if value is None else value
    return [
        name.strip() for part in text.split(",") for name in part.split(os.pathsep) if name.strip()
    ]


def load_entry_points() -> list[str]:
    """Load every installed ``prmgym.plugins`` entry point; warn about, and skip, broken ones.

    An entry point naming a callable (``pkg.mod:register``) has it called without arguments;
    one naming a module is imported. A plugin that fails is one :class:`PluginWarning` naming
    it, its package and how to fix it; the others still load.

    Returns:
        The entry points loaded, as ``name = value``.
    """
    loaded = []
    for entry in metadata.entry_points(group=GROUP):
        label = f"{entry.name} = {entry.value}"
        if label in _plugins:
            loaded.append(label)
            continue
        dist = getattr(entry.dist, "name", None) or "its package"
        try:
            target: Any = entry.load()
            if callable(target):
                target()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others
            warnings.warn(
                f"plugin {entry.name!r} ({label}, from {dist}) failed to load and is skipped:"
                f" {type(exc).__name__}: {exc}; reinstall or fix {dist}, or uninstall it",
                PluginWarning,
                stacklevel=2,
            )
            continue
        _plugins[label] = None
        loaded.append(label)
    return loaded


def load_all(modules: Iterable[str] = ()) -> None:
    """What every command runs first: entry-point plugins, ``PRMGYM_IMPORT``, then ``modules``.

    Raises:
        ConfigError: A named module cannot be imported (see :func:`import_modules`).
    """
    load_entry_points()
    import_modules(env_var_modules(), source=ENV_VAR)
    import_modules(modules)


def split_env_id(env_id: str) -> tuple[str | None, str]:
    """``"module:ns/Env-v0"`` as ``("module", "ns/Env-v0")``; a plain id as ``(None, id)``."""
    module, sep, bare = env_id.partition(":")
    if not sep:
        return None, env_id
    if not module or not bare:
        raise ConfigError(f"env id {env_id!r} must look like 'ns/Env-v0' or 'module:ns/Env-v0'")
    return module, bare


def resolve_env_id(env_id: str) -> str:
    """Import the module of a ``module:ns/Env-v0`` id (recorded); return the bare id.

    Raises:
        ConfigError: The module cannot be imported.
    """
    module, bare = split_env_id(env_id)
    if module is not None:
        import_modules([module], source=f"env id {env_id!r}:")
    return bare


def record() -> dict[str, list[str]]:
    """What was imported: ``{"plugins": [entry points], "modules": [module names]}``.

    Written to a run's ``config.yaml``; :func:`import_recorded` imports it again.
    """
    return {"plugins": list(_plugins), "modules": list(_modules)}


def import_recorded(recorded: Any) -> None:
    """Import the modules a run's ``config.yaml`` recorded (its ``imports`` value).

    Entry-point plugins load by themselves in every command; a module alone must be imported
    again to repeat the run.

    Raises:
        ConfigError: A recorded module cannot be imported.
    """
    if isinstance(recorded, dict):
        import_modules(recorded.get("modules") or (), source="the run's recorded import")


__all__ = [
    "ENV_VAR",
    "GROUP",
    "PluginWarning",
    "env_var_modules",
    "import_modules",
    "import_recorded",
    "load_all",
    "load_entry_points",
    "record",
    "resolve_env_id",
    "split_env_id",
]
