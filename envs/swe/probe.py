"""Grading and probing an SWE episode in scratch copies of its workspace.

The episode's workspace is never graded in place: the agent's shell may hold changed variables
or background processes, and a probe must not change the episode. Instead the workspace is
compared with its seed (a content hash per file, computed in the sandbox), and a fresh scratch
sandbox is started from the same seed with the changed files copied in through the sandboxes'
link-safe file access. Grading takes only the changes :class:`GradingRules` keeps: changes to
test files and test infrastructure are dropped (so those files stay as the seed has them) and
reported in :attr:`Grade.dropped`, and a change whose added code reaches into pytest is refused.
Then it follows SWE-bench's harness: the hidden ``test_patch`` is applied with ``git apply``,
and FAIL_TO_PASS plus PASS_TO_PASS run with pytest under the grader's pinned options
(:data:`~prmgym.envs.swe.testing.PINNED_OPTIONS`).

:class:`SWEProbe` is the read-only handle environment-aware PRMs get from ``env.probe``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shlex
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prmgym.envs.swe.grading import GradingRules
from prmgym.envs.swe.tasks import SWEInstance
from prmgym.envs.swe.testing import DEFAULT_COMMAND, TestReport, run_tests
from prmgym.errors import SandboxError
from prmgym.sandboxes.base import Sandbox, workspace_relative
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from prmgym.task import Task

if TYPE_CHECKING:
    from prmgym.envs.swe.env import SWEEnv

LINK = "link:"
"""Manifest entries of symbolic links are ``link:`` + the link's target; files have a hash."""
# Caches that tools write while tests run; they are not the agent's edits.
_SKIPPED = ("__pycache__", ".pytest_cache")
_FILES = ".prmgym-files"
_LINKS = ".prmgym-links"
_PATCH = ".prmgym-test.patch"
_MISSING = "missing"
_LIST_TIMEOUT_S = 120.0
# A subshell with a known PATH, strict modes off and a sane umask, so the agent's shell
# settings (set -e, PATH, umask 777) cannot break the listing.
_PRELUDE = "set +e +u +o pipefail; umask 022; PATH=/usr/bin:/bin; cd /workspace || exit 1"


@dataclass(frozen=True)
class SandboxRecipe:
    """How to start a sandbox like the episode's: its seed folder and constructor arguments."""

    seed: Path
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    test_command: str = DEFAULT_COMMAND
    """The command that runs the task's test suite from the workspace (pytest's)."""

    def start(self, seed: Path | None = None) -> BubblewrapSandbox:
        """A started sandbox from ``seed`` (default: the episode's seed)."""
        sandbox = BubblewrapSandbox(seed or self.seed, **self.kwargs)
        sandbox.start()
        return sandbox


@dataclass(frozen=True)
class Grade:
    """The SWE-bench verdict on a workspace.

    Attributes:
        fail_to_pass: FAIL_TO_PASS id -> outcome (``passed``, ``failed``, ``error``,
            ``skipped`` or ``missing``).
        pass_to_pass: PASS_TO_PASS id -> outcome.
        timed_out: The test run was cut at its timeout.
        error: Why the tests could not run as the task says (e.g. its hidden tests did not
            apply, or the change reaches into pytest), or None.
        dropped: Changed paths grading left as the task's starting tree has them -> why
            (test files, test infrastructure; see :class:`GradingRules`).
        pytest_reach: Changed source files whose added lines reach into pytest -> how; any
            such file makes the grade an error.
    """

    fail_to_pass: dict[str, str]
    pass_to_pass: dict[str, str]
    timed_out: bool = False
    error: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    pytest_reach: dict[str, str] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        """Every FAIL_TO_PASS test passes and every PASS_TO_PASS test still passes."""
        outcomes = [*self.fail_to_pass.values(), *self.pass_to_pass.values()]
        return self.error is None and all(outcome == "passed" for outcome in outcomes)


@functools.lru_cache(maxsize=64)
def seed_manifest(seed: Path) -> dict[str, str]:
    """Path -> content hash (or link target) of every file of a seed folder.

    Seeds are built once and never change, so each is read once per process.
    """
    manifest: dict[str, str] = {}
    for folder, dirs, files in os.walk(seed):
        dirs[:] = [d for d in dirs if d not in _SKIPPED or os.path.islink(Path(folder, d))]
        names = files + [d for d in dirs if os.path.islink(Path(folder, d))]
        for name in names:
            path = Path(folder, name)
            relative = path.relative_to(seed).as_posix()
            if path.is_symlink():
                manifest[relative] = LINK + os.readlink(path)
            elif path.is_file():
                manifest[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return manifest


def workspace_manifest(sandbox: Sandbox, timeout: float = _LIST_TIMEOUT_S) -> dict[str, str]:
    """Path -> content hash (or link target) of every file in the sandbox's workspace.

    Runs ``find`` and ``sha256sum`` in a subshell of the session (NUL-separated output, so
    any file name is read back whole); the listing files are deleted again. ``timeout``
    bounds the listing.

    Raises:
        SandboxError: The listing could not be made or read.
    """
    prune = r"\( -name __pycache__ -o -name .pytest_cache \) -prune -o"
    own = f"! -path ./{_FILES} ! -path ./{_LINKS}"
    command = (
        f"({_PRELUDE}; rm -f {_FILES} {_LINKS};"
        f" find . {prune} -type f {own} -print0 | xargs -0 -r sha256sum -z -- > {_FILES};"
        f" find . {prune} -type l -printf '%p\\0%l\\0' > {_LINKS})"
    )
    result = sandbox.exec(command, timeout=timeout)
    try:
        if result.timed_out:
            raise SandboxError("listing the workspace timed out")
        files = sandbox.read_file(_FILES).decode("utf-8", "surrogateescape")
        links = sandbox.read_file(_LINKS).decode("utf-8", "surrogateescape").split("\0")
    finally:
        sandbox.exec(f"({_PRELUDE}; rm -f {_FILES} {_LINKS})")
    manifest: dict[str, str] = {}
    for entry in files.split("\0"):
        # sha256sum -z writes "<64 hex digits>  ./path" with the name unescaped.
        if len(entry) > 66:
            _add(manifest, entry[66:], entry[:64])
    for path, target in zip(links[0::2], links[1::2], strict=False):
        _add(manifest, path, LINK + target)
    return manifest


def _add(manifest: dict[str, str], path: str, entry: str) -> None:
    try:
        relative = workspace_relative(path)
    except SandboxError:
        return  # find prints only paths under ".", so this never happens for honest output
    if relative:
        manifest[relative] = entry


def workspace_changes(sandbox: Sandbox, seed: Path) -> dict[str, str | None]:
    """Paths whose content differs from the seed -> their entry now (None: deleted)."""
    return manifest_changes(seed_manifest(seed), workspace_manifest(sandbox))


def manifest_changes(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, str | None]:
    """Paths whose entry differs between two manifests -> their entry now (None: deleted)."""
    changes: dict[str, str | None] = {p: e for p, e in now.items() if before.get(p) != e}
    changes.update({path: None for path in before if path not in now})
    return dict(sorted(changes.items()))


def seed_text(seed: Path, path: str) -> str | None:
    """A seed file's text (None when the seed has no regular file there)."""
    target = seed / path
    if target.is_symlink() or not target.is_file():
        return None
    return target.read_bytes().decode("utf-8", "replace")


def grading_rules(instance: SWEInstance, seed: Path) -> GradingRules:
    """The rules that decide which of the agent's changes grading keeps."""
    return GradingRules.for_task(instance, seed_manifest(seed))


@contextmanager
def scratch_copy(
    live: Sandbox, recipe: SandboxRecipe, changes: Mapping[str, str | None] | None = None
) -> Iterator[BubblewrapSandbox]:
    """A new sandbox from the seed holding the live workspace's changes; the live one is only read.

    Args:
        live: The episode's sandbox.
        recipe: How the episode's sandbox was made.
        changes: The changes to copy (from :func:`workspace_changes`); default all of them.
    """
    if changes is None:
        changes = workspace_changes(live, recipe.seed)
    scratch = recipe.start()
    try:
        if changes:
            # Clear every changed path first, so a file that became a folder (or a link)
            # and the reverse both land cleanly.
            scratch.write_file(_FILES, "\0".join(changes).encode("utf-8", "surrogateescape"))
            script = [f"({_PRELUDE}; xargs -0 rm -rf -- < {_FILES}; rm -f {_FILES})"]
            for path, entry in changes.items():
                if entry is not None and entry.startswith(LINK):
                    parent = shlex.quote(os.path.dirname(path) or ".")
                    target, name = shlex.quote(entry[len(LINK) :]), shlex.quote(path)
                    script.append(
                        f"(cd /workspace && mkdir -p {parent} && ln -s -- {target} {name})"
                    )
            scratch.exec("\n".join(script))
            for path, entry in changes.items():
                if entry is not None and not entry.startswith(LINK):
                    scratch.write_file(path, live.read_file(path))
        yield scratch
    finally:
        scratch.close()


def add_hidden_tests(sandbox: Sandbox, test_patch: str) -> str | None:
    """Apply the task's ``test_patch`` in ``sandbox``; None when it applied, else why not."""
    if not test_patch.strip():
        return None
    sandbox.write_file(_PATCH, test_patch.encode())
    # The agent's git settings must not change how the task's tests are added.
    git = "HOME=/tmp GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git"
    result = sandbox.exec(
        f"(cd /workspace && {git} apply --whitespace=nowarn {_PATCH}; s=$?; rm -f {_PATCH};"
        " exit $s)"
    )
    if result.exit_code == 0:
        return None
    return "the task's hidden tests could not be added to the workspace (git apply failed)"


def grade_workspace(
    live: Sandbox,
    recipe: SandboxRecipe,
    instance: SWEInstance,
    *,
    timeout: float,
    test_ids: Sequence[str] | None = None,
) -> tuple[Grade, TestReport]:
    """Grade a copy of the live workspace the SWE-bench way (see the module docstring).

    Args:
        live: The episode's sandbox (only read).
        recipe: How it was made.
        instance: The task.
        timeout: Seconds the test run may take.
        test_ids: Tests to run; default FAIL_TO_PASS + PASS_TO_PASS.
    """
    ids = list(test_ids) if test_ids is not None else instance.FAIL_TO_PASS + instance.PASS_TO_PASS
    dropped: dict[str, str] = {}
    reach: dict[str, str] = {}
    report = TestReport()
    try:
        kept, dropped = grading_rules(instance, recipe.seed).split(
            workspace_changes(live, recipe.seed)
        )
        with scratch_copy(live, recipe, kept) as scratch:
            reach = _pytest_reach(scratch, recipe.seed, kept)
            if reach:
                error: str | None = (
                    "the change reaches into pytest's internals, which grading refuses ("
                    + "; ".join(f"{path}: {why}" for path, why in reach.items())
                    + ")"
                )
            else:
                error = add_hidden_tests(scratch, instance.test_patch)
            if error is None:
                report = run_tests(scratch, ids, command=recipe.test_command, timeout=timeout)
    except SandboxError as exc:
        # A failed grading is recorded on the episode, not raised through the run.
        error, report = f"grading failed in the sandbox ({exc})", TestReport()
    grade = Grade(
        fail_to_pass={t: report.outcomes.get(t, _MISSING) for t in instance.FAIL_TO_PASS},
        pass_to_pass={t: report.outcomes.get(t, _MISSING) for t in instance.PASS_TO_PASS},
        timed_out=report.timed_out,
        error=error,
        dropped=dropped,
        pytest_reach=reach,
    )
    return grade, report


def _pytest_reach(
    sandbox: Sandbox, seed: Path, changes: Mapping[str, str | None]
) -> dict[str, str]:
    """Changed files (read in ``sandbox``) whose added lines reach into pytest -> how."""
    found: dict[str, str] = {}
    for path, entry in changes.items():
        if entry is None or entry.startswith(LINK):
            continue
        now = sandbox.read_file(path).decode("utf-8", "replace")
        why = GradingRules.pytest_reach(now, seed_text(seed, path))
        if why is not None:
            found[path] = why
    return found


class SWEProbe:
    """Read-only view of a live SWE episode, for environment-aware PRMs.

    Everything that runs code runs in a scratch sandbox; the episode's workspace, shell and
    step count are never changed (its shell only runs a listing of the workspace, in a
    subshell).
    """

    def __init__(self, env: SWEEnv):
        self._env = env

    @property
    def task(self) -> Task:
        """The current task, privileged data included."""
        return self._env.task

    @property
    def instance(self) -> SWEInstance:
        """The current SWE instance: FAIL_TO_PASS, PASS_TO_PASS, patch, test_patch..."""
        return self._env.instance

    def workspace_files_changed(self) -> list[str]:
        """Workspace paths that differ from the task's starting tree (added, changed, deleted)."""
        return list(workspace_changes(self._env.sandbox, self._env.recipe.seed))

    def read_text(self, path: str) -> str | None:
        """A workspace file's text as it is now (None when it is not a readable file)."""
        try:
            return self._env.sandbox.read_file(path).decode("utf-8", "replace")
        except SandboxError:
            return None

    def run_tests(
        self, test_ids: Sequence[str] | None = None, *, with_test_patch: bool = True
    ) -> TestReport:
        """Run tests on a scratch copy of the workspace.

        Args:
            test_ids: pytest node ids; default FAIL_TO_PASS + PASS_TO_PASS.
            with_test_patch: Add the task's hidden tests first, as grading does.
        """
        env = self._env
        if with_test_patch:
            return grade_workspace(
                env.sandbox, env.recipe, env.instance, timeout=env.test_timeout_s, test_ids=test_ids
            )[1]
        ids = (
            test_ids
            if test_ids is not None
            else env.instance.FAIL_TO_PASS + env.instance.PASS_TO_PASS
        )
        with scratch_copy(env.sandbox, env.recipe) as scratch:
            return run_tests(
                scratch, list(ids), command=env.recipe.test_command, timeout=env.test_timeout_s
            )

    def grade(self) -> Grade:
        """What ``submit()`` would report now, without ending the episode."""
        env = self._env
        return grade_workspace(env.sandbox, env.recipe, env.instance, timeout=env.test_timeout_s)[0]

    def compile_error(self, path: str) -> str | None:
        """Why a workspace Python file does not compile (``file, line N: message``), or None.

        The file is compiled, never run, by the task's interpreter in a scratch sandbox.
        """
        try:
            relative = workspace_relative(path)
            source = self._env.sandbox.read_file(relative)
        except SandboxError as exc:
            return str(exc)
        script = (
            "import sys\n"
            "try:\n"
            "    compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')\n"
            "except SyntaxError as e:\n"
            "    print(f'{e.filename}, line {e.lineno}: {e.msg}'); sys.exit(1)\n"
            "except Exception as e:\n"
            "    print(f'{sys.argv[1]}: {type(e).__name__}: {e}'); sys.exit(1)\n"
        )
        with tempfile.TemporaryDirectory(prefix="prmgym-compile-") as folder:
            target = Path(folder, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source)
            sandbox = self._env.recipe.start(Path(folder))
            try:
                result = sandbox.exec(
                    f"python -c {shlex.quote(script)} {shlex.quote(relative)}", timeout=60
                )
            finally:
                sandbox.close()
        if result.exit_code == 0:
            return None
        return (result.stdout.strip() or result.stderr.strip() or "it does not compile")[-500:]

    def compiles(self, path: str) -> bool:
        """Whether a workspace Python file compiles (see :meth:`compile_error`)."""
        return self.compile_error(path) is None
