"""Test environments: a virtual environment that runs a package's test suite, built once.

Every episode of a package's tasks runs its tests with the same tools (pytest and the suite's
other requirements), so they are installed once into a virtual environment in the cache,
``$PRMGYM_CACHE/swe/envs/<hash>`` (default ``~/.cache/prmgym/swe/envs``), and bound read-only
into every sandbox. The package under test is not installed: its source lives in the
workspace, where the agent edits it, and is put on ``PYTHONPATH``.

A virtual environment cannot be moved once built (its scripts name their interpreter by
absolute path), so it is built in place under a lock file: a second builder waits for the
first and then reuses its work, and a build killed half-way is found unfinished (no ready
marker) and built again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prmgym.envs.swe.workspace import cache_root
from prmgym.errors import TaskError
from prmgym.sandboxes.base import WORKSPACE

_READY = ".prmgym-ready"
_INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class TestEnvSpec:
    """What a test suite needs to run: its requirements and where its package's code lives.

    The Python version is the running interpreter's: the environment is built from it.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    requirements: tuple[str, ...] = ("pytest",)
    """pip requirements of the test run (the package under test is not one of them)."""
    pythonpath: tuple[str, ...] = (".",)
    """Workspace folders that hold the package's importable code (``"src"`` for a src
    layout, ``"."`` when the package sits at the repository root)."""

    def key(self) -> str:
        """The environment's cache name: a hash of the interpreter and the requirements."""
        identity = {
            "python": sys.version,
            "base": sys.base_prefix,
            "requirements": sorted(self.requirements),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TestEnv:
    """A built environment and the sandbox settings that put it to use."""

    __test__ = False  # not a pytest test class, whatever its name says

    root: Path
    """The virtual environment's folder."""
    read_only: tuple[str, ...]
    """Host paths a sandbox binds read-only: the environment and its base interpreter."""
    path: tuple[str, ...]
    """Folders put before ``PATH`` in a sandbox (the environment's ``bin``)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables of a sandbox: ``PYTHONPATH`` to the workspace's code, no
    bytecode or pytest cache written into the workspace."""

    def sandbox_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of a sandbox (``BubblewrapSandbox(seed, **kwargs)``)."""
        return {"read_only": list(self.read_only), "path": list(self.path), "env": dict(self.env)}


def prepare(spec: TestEnvSpec, log: Callable[[str], None] | None = None) -> TestEnv:
    """The test environment of ``spec``, built the first time (``log`` hears when).

    Raises:
        TaskError: The environment could not be built (pip could not install a requirement).
    """
    root = cache_root() / "envs" / spec.key()
    if not (root / _READY).is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        with _locked(root.parent / f"{root.name}.lock"):
            # Checked again under the lock: another process may have built it meanwhile.
            if not (root / _READY).is_file():
                if log is not None:
                    log(f"building the test environment {root} ({', '.join(spec.requirements)})")
                _build(spec, root)
    interpreter = Path(sys.base_prefix).resolve()
    paths = [
        WORKSPACE if p in (".", "") else f"{WORKSPACE}/{p.strip('/')}" for p in spec.pythonpath
    ]
    return TestEnv(
        root=root,
        read_only=(str(root), str(interpreter)),
        path=(str(root / "bin"),),
        env={
            "PYTHONPATH": ":".join(paths),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_ADDOPTS": "-p no:cacheprovider",
            # pytest cuts its one-line failure reasons to the terminal's width.
            "COLUMNS": "300",
        },
    )


def _build(spec: TestEnvSpec, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)  # what a failed or killed build left behind
    _run([sys.executable, "-m", "venv", str(root)], "create a virtual environment")
    if spec.requirements:
        command = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*command, *spec.requirements], f"install {', '.join(spec.requirements)}")
    (root / _READY).write_text(json.dumps({"requirements": list(spec.requirements)}) + "\n")


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TaskError(f"cannot {what} for a test environment: {exc}") from exc
    if done.returncode != 0:
        raise TaskError(
            f"cannot {what} for a test environment (pip needs PyPI or a mirror the first"
            f" time; later runs use the cache): {done.stderr.strip()[-800:]}"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
