"""What the SWE grader refuses from the agent: test files, test infrastructure, pytest's internals.

The agent is an adversary (DESIGN 5a): anything in the workspace that the test run reads as
configuration or loads before the tests could turn an unfixed bug into a pass. So grading
takes the agent's change as a diff against the task's starting tree and drops every changed
path that :meth:`GradingRules.protected` names, whatever tool made the change:

- test files: the files the task's test ids and hidden ``test_patch`` name, ``test_*.py``,
  ``*_test.py``, ``tests.py`` and everything under a ``test``, ``tests`` or ``testing`` folder;
- test infrastructure: ``conftest.py`` anywhere; pytest, tox, setup.cfg and pyproject files
  anywhere (dropped whole: a fix rarely needs them, and a partial rule would have to
  understand every section a plugin reads); ``sitecustomize.py``/``usercustomize.py``; ``.pth``
  files; ``*.dist-info``/``*.egg-info`` metadata (``pytest11`` entry points load plugins);
- a new top-level module named like one pytest or the standard library imports (``pytest.py``,
  ``pluggy/``, ``json.py``...): the workspace comes first on ``sys.path``, so it would replace
  the real one inside the test run;
- a folder that holds any of the above (replacing ``tests/`` by a link to a forged copy).

A dropped path keeps the starting tree's version, so every test file is restored even when
the task has no ``test_patch``. What remains is code under test, and it still runs inside the
test process: :meth:`GradingRules.pytest_reach` flags lines added to it that reach into pytest
(``_pytest``, hook names, ``pytest11``, ``sys.modules`` patching, ``import pytest``); grading
refuses such a change, and the SWE verifier and rubric score the step that made it fatal.
Obfuscated code (``__import__("_py" + "test")``) gets past a text scan; that residual risk is
documented in ``envs/swe/README.md``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from prmgym.envs.swe.diffs import touched_paths
from prmgym.envs.swe.tasks import SWEInstance

_TEST_FOLDERS = frozenset({"test", "tests", "testing"})
_CONFIG_FILES = frozenset(
    {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg"}
    | {"pyproject.toml", "conftest.py"}
)
_STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py"})
# What pytest itself imports, besides the standard library.
_RUNNER_MODULES = frozenset(
    {"pytest", "_pytest", "pluggy", "py", "iniconfig", "packaging", "exceptiongroup", "tomli"}
    | {"pygments", "colorama"}
)
# Folders a test environment puts on sys.path (the workspace, and the src layout).
_IMPORT_ROOTS = ("", "src")
_REACH = (
    (re.compile(r"\b_pytest\b"), "uses pytest's internal package _pytest"),
    (re.compile(r"\bpytest11\b"), "declares a pytest11 plugin entry point"),
    (re.compile(r"\bpytest_[a-z]\w*"), "names a pytest hook or pytest_plugins"),
    (re.compile(r"\bhookimpl\b|\bpluggy\b|\bpluginmanager\b"), "registers pytest plugin hooks"),
    (re.compile(r"sys\.modules\b[^\n]*\bpytest\b"), "patches pytest in sys.modules"),
    (re.compile(r"^\s*(import|from)\s+pytest\b", re.MULTILINE), "imports pytest"),
)


@dataclass(frozen=True)
class GradingRules:
    """Which changed paths grading drops, and which added code reaches into pytest.

    Build one with :meth:`for_task`; see the module docstring for the rules.
    """

    test_files: frozenset[str]
    """Paths the task's test ids and ``test_patch`` name."""
    seed_paths: frozenset[str]
    """Every path of the task's starting tree."""

    @classmethod
    def for_task(cls, instance: SWEInstance, seed_paths: Iterable[str]) -> GradingRules:
        """The rules of ``instance``, whose starting tree holds ``seed_paths``."""
        ids = [*instance.FAIL_TO_PASS, *instance.PASS_TO_PASS]
        named = {test.split("::", 1)[0] for test in ids}
        if instance.test_patch.strip():
            named.update(touched_paths(instance.test_patch))
        return cls(frozenset(named), frozenset(seed_paths))

    def protected(self, path: str) -> str | None:
        """Why grading drops the agent's change to ``path`` (None: it is kept)."""
        why = self._protected_name(path)
        if why is not None:
            return why
        prefix = path + "/"
        for seed_path in self.seed_paths:
            if seed_path.startswith(prefix) and self._protected_name(seed_path) is not None:
                return "a folder holding tests or test infrastructure"
        return None

    def _protected_name(self, path: str) -> str | None:
        parts = PurePosixPath(path).parts
        name = parts[-1] if parts else ""
        if path in self.test_files:
            return "a file the task's tests live in"
        if name in _CONFIG_FILES:
            return f"test infrastructure ({name})"
        if name in _STARTUP_FILES or name.endswith(".pth"):
            return f"Python start-up code ({name})"
        if any(part.endswith((".dist-info", ".egg-info")) for part in parts):
            return "package metadata (entry points load pytest plugins)"
        if any(part in _TEST_FOLDERS for part in parts[:-1]) or _is_test_module(name):
            return "a test file"
        shadowed = self._shadowed_module(parts)
        if shadowed is not None:
            return f"a new module {shadowed!r} that would replace the one the test run imports"
        return None

    def _shadowed_module(self, parts: tuple[str, ...]) -> str | None:
        for root in _IMPORT_ROOTS:
            depth = len(PurePosixPath(root).parts)
            if len(parts) <= depth or "/".join(parts[:depth]) != root:
                continue
            top = parts[depth]
            module = top.removesuffix(".py") if len(parts) == depth + 1 else top
            taken = module in _RUNNER_MODULES or module in sys.stdlib_module_names
            base = "/".join(parts[: depth + 1])
            exists = base in self.seed_paths or any(
                p.startswith(base + "/") for p in self.seed_paths
            )
            if taken and not exists:
                return module
        return None

    def split(
        self, changes: Mapping[str, str | None]
    ) -> tuple[dict[str, str | None], dict[str, str]]:
        """``changes`` (path -> entry) as the kept ones and the dropped ones (path -> why)."""
        kept: dict[str, str | None] = {}
        dropped: dict[str, str] = {}
        for path, entry in changes.items():
            why = self.protected(path)
            if why is None:
                kept[path] = entry
            else:
                dropped[path] = why
        return kept, dropped

    @staticmethod
    def pytest_reach(now: str, before: str | None) -> str | None:
        """How lines added to a source file (``before`` -> ``now``) reach into pytest, or None."""
        old = set((before or "").splitlines())
        added = "\n".join(line for line in now.splitlines() if line not in old)
        for pattern, why in _REACH:
            if pattern.search(added):
                return why
        return None


def _is_test_module(name: str) -> bool:
    return name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py") or name == "tests.py"
    )
