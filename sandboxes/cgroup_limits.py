"""Per-sandbox process and memory caps through cgroups, where this process may create them.

``ulimit -u`` caps processes per user, and the kernel never applies it to root: a fork bomb in a
sandbox started by root would only end at the command's timeout. A cgroup's ``pids.max`` caps
the sandbox itself whoever runs it, and ``memory.max`` caps its memory, tmpfs included. Both
need a writable cgroup hierarchy (cgroup v2 with a delegated subtree, or v1's ``pids`` and
``memory`` controllers, as root in many containers). Where none is writable, the sandbox falls
back to rlimits and says so in its ``enforced`` list.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


@dataclass
class CgroupLimits:
    """The cgroup folders holding one sandbox, and the caps they set."""

    folders: list[Path] = field(default_factory=list)
    """One folder per hierarchy (v2: one; v1: ``pids`` and ``memory``)."""
    caps: dict[Path, list[str]] = field(default_factory=dict)
    """The caps each folder sets: ``"processes"``, ``"memory"``."""

    @property
    def enforced(self) -> list[str]:
        """Which caps hold."""
        return [cap for folder in self.folders for cap in self.caps.get(folder, [])]

    def enter_command(self) -> str:
        """Shell words that move the shell running them into the cgroups (``""``: none).

        A move the host refuses is skipped; :meth:`confirm` then drops its caps.
        """
        return "".join(
            f"{{ echo $$ > {folder / 'cgroup.procs'}; }} 2>/dev/null; " for folder in self.folders
        )

    def confirm(self, pid: int) -> None:
        """Keep in ``enforced`` only the caps of cgroups that ``pid`` really joined."""
        for folder in self.folders:
            if str(pid) not in _members(folder):
                self.caps[folder] = []

    def process_cap_hits(self) -> int:
        """How many forks the process cap has refused so far (0 without one)."""
        for folder in self.folders:
            if "processes" in self.caps.get(folder, []):
                try:
                    for line in (folder / "pids.events").read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "max":
                            return int(value)
                except (OSError, ValueError):
                    return 0
        return 0

    def remove(self) -> None:
        """Delete the cgroups (their processes must be gone)."""
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                # A process still exiting keeps the folder busy for a moment; kill and retry.
                _kill_members(folder)
                shutil.rmtree(folder, ignore_errors=True)
                try:
                    folder.rmdir()
                except OSError:
                    pass
        self.folders.clear()


def create(processes: int, memory_mb: int) -> CgroupLimits:
    """New cgroups capping processes and memory, as far as this host lets us (maybe none)."""
    name = f"prmgym-sandbox-{uuid.uuid4().hex[:12]}"
    limits = CgroupLimits()
    v2 = _v2_parent()
    if v2 is not None:
        folder = v2 / name
        try:
            folder.mkdir()
        except OSError:
            return limits
        limits.folders.append(folder)
        limits.caps[folder] = [
            cap
            for setting, value, cap in (
                ("pids.max", str(processes), "processes"),
                ("memory.max", str(memory_mb << 20), "memory"),
            )
            if _write(folder / setting, value)
        ]
        return limits
    for controller, setting, value, cap in (
        ("pids", "pids.max", str(processes), "processes"),
        ("memory", "memory.limit_in_bytes", str(memory_mb << 20), "memory"),
    ):
        folder = _ROOT / controller / name
        try:
            folder.mkdir()
        except OSError:
            continue
        limits.folders.append(folder)
        limits.caps[folder] = [cap] if _write(folder / setting, value) else []
    return limits


def _v2_parent() -> Path | None:
    """This process's own cgroup v2 folder when it may make children there, else None."""
    if not (_ROOT / "cgroup.controllers").is_file():
        return None
    try:
        line = next(
            x for x in Path("/proc/self/cgroup").read_text().splitlines() if x.startswith("0::")
        )
    except (OSError, StopIteration):
        return None
    parent = _ROOT / line[3:].lstrip("/")
    return parent if os.access(parent, os.W_OK) else None


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _members(folder: Path) -> list[str]:
    try:
        return (folder / "cgroup.procs").read_text().split()
    except OSError:
        return []


def _kill_members(folder: Path) -> None:
    for pid in _members(folder):
        try:
            os.kill(int(pid), 9)
        except (OSError, ValueError):
            pass
