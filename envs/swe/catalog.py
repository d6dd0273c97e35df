"""The swe-lite package catalog: real, permissively licensed packages whose tests run offline.

Each entry is a pure-Python PyPI release whose sdist ships its test suite, which runs in a few
seconds in a sandbox without a network. Synthesis (:mod:`prmgym.envs.swe.synth`) plants bugs
in the entry's source files and keeps those its tests catch; a task names its entry by key
(``SWEInstance.environment``), which says how to set up and run its tests.

Licences were read from each sdist's licence file and ``PKG-INFO``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.testenv import TestEnvSpec
from prmgym.envs.swe.workspace import source_tree
from prmgym.errors import ConfigError, TaskError

# One pytest for every entry: a task's outcomes were recorded under it, and an agent's run
# must reproduce them. (pytest 9 refuses boltons' conftest, written for older hooks.)
_PYTEST = ("pytest==8.4.2",)
_TEST_FILE_NAMES = ("conftest.py", "setup.py")


@dataclass(frozen=True)
class Package:
    """One package: where its code and tests are, how to run them, how many tasks to take."""

    key: str
    """The catalog key, also each task's ``environment``."""
    requirement: str
    """``name==version`` of the release (its sdist for catalog entries)."""
    licence: str
    """SPDX identifier and where it was read."""
    environment: TestEnvSpec
    """What the test run needs (pytest and the suite's other requirements)."""
    source: tuple[str, ...]
    """Folders or files (relative to the repository root) whose code may be mutated."""
    tests: tuple[str, ...] = ()
    """Where the suite lives (pytest's ``testpaths``); empty: pytest's own discovery."""
    exclude: tuple[str, ...] = ()
    """Source files never mutated (generated version files, code the suite never runs)."""
    tasks: int = 12
    """How many tasks swe-lite takes from this package."""
    timeout_s: float = 120.0
    """Longest a clean run of the suite may take."""

    @property
    def name(self) -> str:
        """The distribution name."""
        return self.requirement.partition("==")[0]

    @property
    def version(self) -> str:
        """The release."""
        return self.requirement.partition("==")[2]

    @property
    def test_command(self) -> str:
        """The pytest command that runs the suite from the repository root.

        ``testpaths`` applies only when no test ids are given, so the same command runs the
        whole suite or just the ids a grader names.
        """
        command = "python -m pytest"
        if self.tests:
            command += " -o " + shlex.quote("testpaths=" + " ".join(self.tests))
        return command

    def source_files(self, root: Path) -> list[str]:
        """The mutable Python files under ``root``: in ``source``, not tests, not excluded."""
        found: set[str] = set()
        for entry in self.source:
            path = root / entry
            candidates = [path] if path.is_file() else sorted(path.rglob("*.py"))
            for candidate in candidates:
                relative = candidate.relative_to(root).as_posix()
                if candidate.suffix == ".py" and not _is_test_code(relative):
                    found.add(relative)
        return sorted(found - set(self.exclude))


def _is_test_code(relative: str) -> bool:
    *folders, name = relative.split("/")
    return (
        any(folder in ("test", "tests", "testing") for folder in folders)
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name in _TEST_FILE_NAMES
    )


CATALOG: dict[str, Package] = {
    package.key: package
    for package in (
        Package(
            key="toolz",
            requirement="toolz==1.0.0",
            licence="BSD-3-Clause (LICENSE.txt; PKG-INFO: BSD)",
            environment=TestEnvSpec(requirements=_PYTEST),
            source=("toolz",),
            tests=("toolz/tests",),
            # Versioneer's generated file; the rest of toolz is covered by its suite.
            exclude=("toolz/_version.py",),
        ),
        Package(
            key="boltons",
            requirement="boltons==24.1.0",
            licence="BSD-3-Clause (LICENSE; PKG-INFO: BSD)",
            environment=TestEnvSpec(requirements=_PYTEST),
            # The modules with a test file of their own; the others are barely exercised.
            source=tuple(
                f"boltons/{module}.py"
                for module in (
                    "cacheutils",
                    "dictutils",
                    "fileutils",
                    "formatutils",
                    "funcutils",
                    "ioutils",
                    "iterutils",
                    "jsonutils",
                    "listutils",
                    "mathutils",
                    "namedutils",
                    "queueutils",
                    "setutils",
                    "statsutils",
                    "strutils",
                    "tableutils",
                    "timeutils",
                    "typeutils",
                    "urlutils",
                )
            ),
            tests=("tests",),
        ),
        Package(
            key="more-itertools",
            requirement="more-itertools==10.5.0",
            licence="MIT (LICENSE; PKG-INFO classifier: MIT License)",
            environment=TestEnvSpec(requirements=_PYTEST),
            source=("more_itertools",),
            tests=("tests",),
        ),
        Package(
            key="six",
            requirement="six==1.16.0",
            licence="MIT (LICENSE; PKG-INFO: MIT)",
            environment=TestEnvSpec(requirements=_PYTEST),
            source=("six.py",),
            tests=("test_six.py",),
        ),
    )
}
"""The swe-lite packages by key."""


def package(key: str) -> Package:
    """The catalog entry ``key``.

    Raises:
        ConfigError: No entry has that key.
    """
    try:
        return CATALOG[key]
    except KeyError:
        raise ConfigError(
            f"no package {key!r} in the SWE catalog; known: {', '.join(sorted(CATALOG))}"
        ) from None


def guess(requirement: str, tree: Path, tasks: int = 10) -> Package:
    """An entry for a release the catalog lacks, from its unpacked source ``tree``.

    Its code is every top-level package and module (under ``src/`` for a src layout), its
    tests whatever pytest discovers, its environment pytest alone; the licence is unchecked.
    """
    layout = "src" if (tree / "src").is_dir() else "."
    base = tree / layout
    code = [
        path.relative_to(tree).as_posix()
        for path in sorted(base.iterdir())
        if (path.is_dir() and (path / "__init__.py").is_file())
        or (path.suffix == ".py" and not _is_test_code(path.name))
    ]
    name = requirement.partition("==")[0]
    return Package(
        key=name.lower(),
        requirement=requirement,
        licence="unchecked",
        environment=TestEnvSpec(requirements=_PYTEST, pythonpath=(layout,)),
        source=tuple(code),
        tasks=tasks,
    )


def find(requirement: str) -> Package | None:
    """The catalog entry of ``name==version``, or None when the catalog lacks that release."""
    for entry in CATALOG.values():
        if entry.requirement.lower() == requirement.strip().lower():
            return entry
    return None


def entry_for(instance: SWEInstance) -> Package:
    """How ``instance``'s tests run: the catalog entry of its release, else one guessed from it.

    An sdist release outside the catalog gets :func:`guess`'s layout, as ``prmgym swe synth``
    gave it when the task was made; a git source needs its ``environment`` in the catalog.

    Raises:
        TaskError: A git task names an environment the catalog lacks.
    """
    source = instance.source
    if source.kind == "sdist" and source.requirement is not None:
        found = find(source.requirement)
        if found is not None:
            return found
        return guess(source.requirement, source_tree(source, instance.base_commit))
    if instance.environment in CATALOG:
        return CATALOG[instance.environment]
    raise TaskError(
        f"task {instance.instance_id!r}: its test environment {instance.environment!r} is not"
        f" in the SWE catalog (known: {', '.join(sorted(CATALOG))}); give the task an sdist"
        " source, or environment null to run its tests with this interpreter's packages"
    )
