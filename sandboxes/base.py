"""The sandbox contract every backend (bubblewrap, Docker) keeps.

A sandbox is one episode's isolated machine: a writable workspace at ``/workspace`` seeded from a
host folder, a read-only system, no network, and limits on CPU time, memory, processes, file
size, disk and output. Commands run in one persistent shell session, so ``cd`` and exported
variables carry over between steps and a step costs a round trip rather than a process start.

Agent actions are untrusted code. Nothing an action does reaches the host's files, the network
or another sandbox; a hung command is cut at its timeout; a shell the action killed is restarted
(``ExecResult.restarted``); a sandbox that died altogether is rebuilt from its seed by
``exec``, which says so in the result. Callers mark the episode, the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from prmgym.errors import SandboxError

WORKSPACE = "/workspace"
"""Where the workspace is mounted inside every sandbox (and the shell's starting directory)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox; every backend enforces each one it can and says which."""

    timeout_s: float = 30.0
    """Wall-clock seconds one command may run before it is killed."""
    cpu_s: int = 300
    """CPU seconds one process may use."""
    memory_mb: int = 2048
    """Memory (address space) one process may map."""
    processes: int = 256
    """Processes and threads the sandbox may hold at once."""
    file_size_mb: int = 256
    """Largest file a process may write."""
    workspace_mb: int = 1024
    """Disk space of the workspace (the whole writable area)."""
    output_bytes: int = 64_000
    """Bytes of stdout and of stderr a command's result keeps; the rest is cut (``truncated``)."""

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "memory_mb", "processes", "file_size_mb"):
            if getattr(self, name) <= 0:
                raise SandboxError(
                    f"sandbox limit {name} must be positive, got {getattr(self, name)}"
                )
        if self.workspace_mb <= 0 or self.output_bytes <= 0:
            raise SandboxError("sandbox limits workspace_mb and output_bytes must be positive")


@dataclass(frozen=True)
class ExecResult:
    """What one command did."""

    exit_code: int
    """The command's exit status; -1 when it was killed at its timeout."""
    stdout: str
    """Standard output, decoded as UTF-8 (bad bytes replaced), cut at ``output_bytes``."""
    stderr: str
    """Standard error, the same way."""
    timed_out: bool = False
    """The command ran past its timeout and was killed (with everything it started)."""
    truncated: bool = False
    """stdout or stderr was longer than ``output_bytes`` and was cut."""
    restarted: str | None = None
    """Why the session was restarted during this command, if it was: the shell exited or was
    killed (working directory and variables reset, workspace kept), or the sandbox died and was
    rebuilt from its seed (workspace reset)."""


@runtime_checkable
class Sandbox(Protocol):
    """An isolated, persistent shell over a private workspace (see the module docstring)."""

    limits: SandboxLimits

    def start(self) -> None:
        """Create the sandbox and its shell; the workspace starts as a copy of the seed."""
        ...

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        """Run ``command`` in the persistent shell (``timeout`` defaults to the limits')."""
        ...

    def read_file(self, path: str) -> bytes:
        """Bytes of a workspace file (``path`` relative to, or under, ``/workspace``).

        Symbolic links are never followed, so a link the agent made cannot reach a host file.
        """
        ...

    def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file, making its folders; links are not followed."""
        ...

    def snapshot(self) -> str:
        """Save the workspace; the token restores it."""
        ...

    def restore(self, token: str) -> None:
        """Put the workspace back as ``snapshot`` saw it (the shell session restarts)."""
        ...

    def close(self) -> None:
        """Kill everything in the sandbox and free it; closing twice is fine."""
        ...


def workspace_relative(path: str | Path) -> str:
    """``path`` relative to the workspace, refusing anything that leaves it.

    Accepts ``src/a.py``, ``./src/a.py`` and ``/workspace/src/a.py``.

    Raises:
        SandboxError: The path is absolute outside the workspace, or climbs out with ``..``.
    """
    text = str(path)
    if text == WORKSPACE or text.startswith(WORKSPACE + "/"):
        text = text[len(WORKSPACE) :].lstrip("/")
    elif text.startswith("/"):
        raise SandboxError(f"{path!r} is outside {WORKSPACE}; give a path inside the workspace")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SandboxError(f"{path!r} climbs out with '..'; give a path inside the workspace")
    return "/".join(parts)
