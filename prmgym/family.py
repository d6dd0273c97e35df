"""Families: everything prmgym knows about one kind of environment, declared in one place.

A :class:`Family` names its env ids and every piece the other layers need: the LLM prompt, the
env's tool help, the default PRMs, and the optional oracle, wrong-action and random-action
generators, verifier, default rubric and first-error perturbations. Pieces are lazy
``"package.module:attr"`` strings, as Gymnasium's entry points are, so this core module names
code in higher layers (agents, rewards) without importing it; a piece is imported when a
command first needs it (:meth:`Family.load`). Every command finds a family's pieces here; no
layer keeps its own table of families.

The four built-in families declare themselves in ``prmgym/envs/<family>/family.py``; a plugin
declares its own the same way and calls :func:`register_family` at import.

Example:
    >>> import prmgym
    >>> family = prmgym.get_family("search")
    >>> family.envs[0].id, family.default_prms
    ('prmgym/SearchQA-v0', ('search-verifier',))
    >>> family.load("tool_help").startswith("Tools:")
    True

The pieces and what each lazy string must name:

=================  =====================================================================
``prompt``         a ``prmgym.agents.prompts.FamilyPrompt`` (chat template and parser)
``tool_help``      the ``str`` the env shows the agent to describe its tools
``oracle``         ``(task, observations, actions) -> str``: the scripted next action
``wrong_action``   ``(task, oracle_action, observations, rng) -> str``: a plausible wrong
                   action, for the noisy oracle
``random_action``  ``(task, observations, rng) -> str``: a random call of the family's tools,
                   for the random baseline
``verifier``       a ``ProcessRewardModel`` class built without arguments
``rubric``         a ``Rubric``, or a rubric YAML shipped in a package
                   (``"package:path/to/rubric.yaml"``)
``perturbations``  a ``prmgym.envs.perturbation.FamilyPerturbations`` (first-error sets)
=================  =====================================================================
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module, resources
from typing import Any, TypeVar

from prmgym.errors import ConfigError
from prmgym.registry import register_env
from prmgym.task import Task

Oracle = Callable[[Task, Sequence[str], Sequence[str]], str]
"""``(task, observations so far, actions so far) -> the oracle's next action``."""

WrongAction = Callable[[Task, str, Sequence[str], random.Random], str]
"""``(task, the oracle's action, observations so far, rng) -> a plausible wrong action``."""

RandomAction = Callable[[Task, Sequence[str], random.Random], str]
"""``(task, observations so far, rng) -> a random call of the family's tools``."""

PIECES: dict[str, str] = {
    "prompt": "a FamilyPrompt (the chat template and completion parser for LLM agents)",
    "tool_help": "the text the env shows to describe its tools",
    "oracle": "a function (task, observations, actions) -> the scripted next action",
    "wrong_action": "a function (task, oracle_action, observations, rng) -> a wrong action",
    "random_action": "a function (task, observations, rng) -> a random call of its tools",
    "verifier": "a ProcessRewardModel class built without arguments",
    "rubric": "a Rubric, or a rubric YAML in a package ('package:path/to/rubric.yaml')",
    "perturbations": "a FamilyPerturbations (first-error perturbations and their kinds)",
}
"""Every lazy piece a family may declare, with what its string must name."""

T = TypeVar("T")

_RESOURCE_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")


def load_entry_point(ref: str) -> Any:
    """Import what a lazy ``"package.module:attr"`` string names.

    ``attr`` may be dotted (``module:Class.method``). A ``"package:path/file.yaml"`` string
    (the part after the colon holds a ``/`` or ends in .yaml, .yml, .json or .jsonl) names a
    data file shipped inside the package; it comes back as an ``importlib.resources``
    Traversable, not read.

    Raises:
        ConfigError: The string is malformed, or its module or attribute does not exist.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{ref!r} must look like 'package.module:attr'")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the named module itself missing is the string's fault; a missing dependency
        # inside a module that exists is a real import error and propagates.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise ConfigError(f"{ref!r}: no module named {exc.name!r}") from None
    if "/" in attr or attr.endswith(_RESOURCE_SUFFIXES):
        resource = resources.files(module_name).joinpath(attr)
        if not resource.is_file():
            raise ConfigError(f"{ref!r}: package {module_name!r} ships no file {attr!r}")
        return resource
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{ref!r}: {module_name!r} has no attribute {attr!r}") from None
    return target


@dataclass(frozen=True)
class FamilyEnv:
    """One env id of a family, registered with Gymnasium by :func:`register_family`.

    Attributes:
        id: Versioned id, ``namespace/Name-vN``; bump N when rewards or dynamics change.
        entry_point: Lazy ``"module:Class"`` string, imported on first ``gymnasium.make``.
        task_source: Human-readable origin of the tasks (shown by ``prmgym envs``).
        max_episode_steps: Truncation limit, applied by Gymnasium's TimeLimit wrapper.
        nondeterministic: Tell Gymnasium the env cannot be exactly reproduced from a seed.
        kwargs: Default constructor arguments.
    """

    id: str
    entry_point: str
    task_source: str
    max_episode_steps: int | None = None
    nondeterministic: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """One family's declaration: its envs and every piece the commands look up.

    Attributes:
        name: The family name that tasks carry in ``Task.family`` and envs in ``env.family``.
        prompt: Lazy string naming its ``FamilyPrompt`` (chat template and action parser).
        tool_help: Lazy string naming the ``str`` its env shows to describe the tools.
        envs: The env ids it registers.
        default_prms: Scorer names used when a run names none (shown by ``prmgym envs``).
        oracle: Lazy string naming its scripted oracle (see :data:`Oracle`).
        wrong_action: Lazy string naming its wrong-action generator (see :data:`WrongAction`).
        random_action: Lazy string naming its random-action generator (:data:`RandomAction`).
        verifier: Lazy string naming its environment-aware verifier class.
        rubric: Lazy string naming its default rubric, or a rubric YAML in a package.
        perturbations: Lazy string naming its first-error ``FamilyPerturbations``.
    """

    name: str
    prompt: str
    tool_help: str
    envs: tuple[FamilyEnv, ...] = ()
    default_prms: tuple[str, ...] = ()
    oracle: str | None = None
    wrong_action: str | None = None
    random_action: str | None = None
    verifier: str | None = None
    rubric: str | None = None
    perturbations: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(
                f"family name {self.name!r} must be letters, digits, '-' or '_', e.g. 'sql'"
            )
        for piece in PIECES:
            ref = getattr(self, piece)
            if ref is not None and (not isinstance(ref, str) or ":" not in ref.strip(":")):
                raise ConfigError(
                    f"family {self.name!r}: {piece}={ref!r} must be a lazy"
                    " 'package.module:attr' string"
                )
        object.__setattr__(self, "envs", tuple(self.envs))
        object.__setattr__(self, "default_prms", tuple(self.default_prms))

    def declares(self, piece: str) -> bool:
        """Whether the family names ``piece`` (one of :data:`PIECES`)."""
        return getattr(self, _piece(piece)) is not None

    def load(self, piece: str) -> Any:
        """Import one of the family's pieces (see :data:`PIECES`).

        Raises:
            ConfigError: The family does not declare the piece (the message says what to
                add), or its string names nothing importable.
        """
        ref = getattr(self, _piece(piece))
        if ref is None:
            raise ConfigError(
                f"family {self.name!r} declares no {piece}; add {piece}='package.module:attr'"
                f" to its Family declaration, naming {PIECES[piece]}"
            )
        try:
            return load_entry_point(ref)
        except ConfigError as exc:
            raise ConfigError(f"family {self.name!r}, {piece}: {exc}") from None

    def load_as(self, piece: str, kind: type[T]) -> T:
        """:meth:`load`, checking that the piece is a ``kind``.

        Raises:
            ConfigError: As :meth:`load`, or the piece is of another type.
        """
        loaded = self.load(piece)
        if not isinstance(loaded, kind):
            raise ConfigError(
                f"family {self.name!r}: its {piece} piece is a {type(loaded).__name__}, not a"
                f" {kind.__module__}.{kind.__qualname__}"
            )
        return loaded


def _piece(piece: str) -> str:
    if piece not in PIECES:
        raise ValueError(f"no family piece {piece!r}; pieces: {', '.join(PIECES)}")
    return piece


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Record a family and register its env ids with Gymnasium (through ``register_env``).

    Registering the same declaration twice is harmless; a different one under a taken name
    replaces it, with a warning (as Gymnasium does for env ids).

    Returns:
        The family, so a module can write ``FAMILY = register_family(Family(...))``.
    """
    known = _FAMILIES.get(family.name)
    if known is not None and known != family:
        warnings.warn(
            f"family {family.name!r} is declared again; the new one replaces it", stacklevel=2
        )
    for env in family.envs:
        register_env(
            env.id,
            env.entry_point,
            family=family.name,
            task_source=env.task_source,
            default_prms=family.default_prms,
            max_episode_steps=env.max_episode_steps,
            nondeterministic=env.nondeterministic,
            kwargs=dict(env.kwargs),
        )
    _FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The declaration of family ``name``.

    Raises:
        ConfigError: No family of that name is registered; the message lists those that are.
    """
    try:
        return _FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(_FAMILIES)) or "none"
        raise ConfigError(
            f"unknown family {name!r} (registered: {known}); declare it with"
            f" prmgym.register_family(Family(name={name!r}, ...))"
        ) from None


def families() -> dict[str, Family]:
    """Every registered family, by name, in registration order."""
    return dict(_FAMILIES)


__all__ = [
    "PIECES",
    "Family",
    "FamilyEnv",
    "Oracle",
    "RandomAction",
    "WrongAction",
    "families",
    "get_family",
    "load_entry_point",
    "register_family",
]
