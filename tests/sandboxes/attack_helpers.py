"""What the attack tests (``test_attacks_*.py``) share: host-side observers and sandbox helpers.

Every attack test is one attack, run through ``BubblewrapSandbox.exec`` (or, where the attack
aims at the host side, through ``read_file``/``write_file``/``snapshot``), and checks two things:
the attack's effect did not happen, and the host is as it was (a canary file outside the
sandbox, host folders, the host's environment, its processes, disk and memory), with the
sandbox still answering. The fixtures (``host``, ``box``, ``fresh``, ``pair``) are in
``conftest.py``; ``sandboxes/README.md`` tabulates the attacks.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.base import ExecResult, SandboxLimits
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox

PY = sys.base_prefix
"""Bound read-only into every sandbox here, so attacks can use Python."""
LIMITS = SandboxLimits(
    timeout_s=5,
    memory_mb=512,
    workspace_mb=16,
    output_bytes=4000,
    processes=64,
    file_size_mb=64,
)
TAG = uuid.uuid4().hex[:12]
SECRET_NAME = "PRMGYM_ATTACK_HOST_SECRET"
SECRET = f"host-secret-{TAG}"
CANARY = f"host-canary-{TAG}"
PWNED = f"pwned-{TAG}"
"""The name of every file an attack tries to create outside the workspace."""
REPO = Path(__file__).resolve().parents[2]
HOST_TMP = Path(tempfile.gettempdir())
OWN_ARGV = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
"""This test process's command line, as a sandbox would print it if it could see it."""


def sleep_arg(k: int) -> str:
    """A sleep duration no other process on the host uses, to find it in the process table."""
    return f"{k}{int(TAG[:5], 16)}"


# -- host-side observers ---------------------------------------------------------------------


@dataclass
class Host:
    folder: Path
    """A host folder outside every sandbox, holding only the canary."""
    canary: Path
    seed: Path
    shadow: str
    passwd_sha: str
    hostname: str

    def assert_unchanged(self) -> None:
        """The canary, the seed and the host files an attack aims at are as they were."""
        assert self.canary.read_text() == CANARY
        assert [p.name for p in self.folder.iterdir()] == ["canary.txt"]
        assert [p.name for p in self.seed.iterdir()] == ["seed.txt"]
        assert (self.seed / "seed.txt").read_text() == "seed\n"
        assert sha256(Path("/etc/passwd")) == self.passwd_sha
        assert socket.gethostname() == self.hostname
        assert os.environ.get(SECRET_NAME) == SECRET
        targets = ["/", "/tmp", HOST_TMP, "/usr", "/usr/bin", "/etc", "/root", REPO]
        for folder in [*map(Path, targets), self.folder, self.seed]:
            made = [name for name in os.listdir(folder) if TAG in name]
            assert not made, f"an attack created {made} in the host's {folder}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def host_files_containing(needle: bytes) -> list[Path]:
    """Regular host files of every sandbox's host folder (logs, snapshots) holding ``needle``."""
    found = []
    for folder in HOST_TMP.glob("prmgym-sandbox-*"):
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root, name)
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    if needle in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def descendants() -> set[tuple[int, str]]:
    """This test process's descendants (pid, start time): its sandboxes and what they run.

    Other test runs may share the host, so only our own process tree is counted.
    """
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = (int(fields[1]), fields[19])
    me, found = os.getpid(), set()
    for pid, (parent, started) in parents.items():
        for _ in range(64):
            if parent == me:
                found.add((pid, started))
                break
            if parent not in parents:
                break
            parent = parents[parent][0]
    return found


def no_new_processes(before: set[tuple[int, str]]) -> None:
    """No process of ours appeared since ``before`` and stayed (waiting a moment for exits)."""
    deadline = time.monotonic() + 3
    while (new := descendants() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    described = []
    for pid, _ in new:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            described.append(f"{pid}: {argv[:80]}")
        except OSError:
            continue
    assert not described, f"processes left on the host: {described}"


def host_processes_running(*words: str) -> list[int]:
    """Host pids whose command line holds all ``words`` as arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(word.encode() in argv for word in words):
            found.append(int(entry))
    return found


def wait_for_process(*words: str) -> list[int]:
    """The host pids running ``words`` once at least one is there (or [] after 5 s)."""
    deadline = time.monotonic() + 5
    while not (found := host_processes_running(*words)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def free_disk_mb(path: str | Path) -> float:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize / (1 << 20)


def watch_during(action: Callable[[], Any], probe: Callable[[], float]) -> tuple[Any, float]:
    """Run ``action`` while sampling ``probe``; returns its result and the largest sample."""
    peak = probe()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, probe())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, peak


def with_deadline(
    action: Callable[[], Any], seconds: float, unblock: Callable[[], None]
) -> tuple[bool, dict[str, Any]]:
    """Run a host-side call that an attack may block forever.

    Returns ``(hung, outcome)``: whether it was still running after ``seconds`` (then
    ``unblock`` releases it, so the test can clean up), and ``{"value": ...}`` or
    ``{"error": ...}``.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    hung = thread.is_alive()
    if hung:
        unblock()
        thread.join(30)
    return hung, outcome


def sandbox_path(box: BubblewrapSandbox, path: str) -> str:
    """The host's view of a path inside the sandbox (what the tests use to unblock a call)."""
    return f"/proc/{box._init_pid}/root{path}"


# -- in-sandbox helpers ------------------------------------------------------------------------


def answers(box: BubblewrapSandbox) -> ExecResult:
    """The sandbox still runs commands (maybe after saying it restarted)."""
    try:
        result = box.exec("echo ok", timeout=10)
    except SandboxError as exc:
        pytest.fail(f"the sandbox no longer runs commands: {exc}")
    assert result.stdout == "ok\n" and result.exit_code == 0, result
    return result


def python(box: BubblewrapSandbox, code: str, timeout: float | None = None) -> ExecResult:
    """Run a Python script inside the sandbox (written to the workspace first)."""
    name = f"attack_{uuid.uuid4().hex[:8]}.py"
    box.write_file(name, code.encode())
    return box.exec(f"python3 {name}", timeout=timeout)


def make_sandbox(host: Host, limits: SandboxLimits = LIMITS) -> BubblewrapSandbox:
    box = BubblewrapSandbox(host.seed, limits=limits, read_only=[PY], path=[f"{PY}/bin"])
    box.start()
    return box


def close_and_check(box: BubblewrapSandbox) -> None:
    """Close the sandbox; nothing of it may survive on the host."""
    namespace = box._pid_ns
    box.close()
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    left.append(entry)
            except OSError:
                continue
    assert not left, f"processes {left} survived close()"
