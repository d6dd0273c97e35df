"""What the host does to a bubblewrap sandbox's pipe and processes, none of it waiting unbounded.

Everything in a sandbox may be hostile: its shell and keeper can be stopped (SIGSTOP), killed,
or have their input pipe filled by a process that opens it through ``/proc/<keeper>/fd/0``.
So the host writes to that pipe only with a deadline (:func:`write_by`), and counts a process
as alive only while it can still run (:func:`running`): a process with a SIGKILL queued is dead
already, even while it waits for a CPU to exit on.
"""

from __future__ import annotations

import os
import select
import signal
import time
from pathlib import Path

_SIGKILL_BIT = 1 << (signal.SIGKILL - 1)
_PF_EXITING = 0x4  # the kernel's task flag of a process on its way out


def write_by(fd: int, data: bytes, deadline: float) -> bool:
    """Write all of ``data`` to the non-blocking pipe ``fd`` before ``deadline``.

    Returns False when the reader is gone or has not made room in time (it was stopped, or
    something else filled the pipe); the caller restarts or rebuilds the sandbox.
    """
    view = memoryview(data)
    while view:
        _, writable, _ = select.select([], [fd], [], max(0.0, deadline - time.monotonic()))
        if not writable:
            return False
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            time.sleep(0.01)  # another writer took the room select saw
        except OSError:
            return False  # the reader is gone
    return True


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process: not gone, not a zombie, not exiting, no SIGKILL queued.

    A kill is queued at once but acted on only when the victim next runs, which on a loaded
    host can be long after the killer has gone on (and, in a sandbox, reported its command
    done): counting the queued SIGKILL makes "is the keeper alive" the same answer every time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, IndexError):
        return False
    if stat[0] in ("Z", "X", "x") or int(stat[6]) & _PF_EXITING:
        return False
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return not pending & _SIGKILL_BIT


def send_signal(pid: int, sig: int) -> None:
    """Signal ``pid`` if it is still there."""
    try:
        os.kill(pid, sig)
    except OSError:
        pass  # already gone


def namespace_pids(namespace: str) -> list[int]:
    """Host pids of the processes in the PID namespace ``namespace`` (its ``ns/pid`` link)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def parent_of(pid: int) -> int:
    """The parent pid of ``pid``; 0 if it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def read_by(fd: int, deadline: float, limit: int = 1 << 16) -> bytes | None:
    """Everything from ``fd`` up to its end (at most ``limit`` bytes) before ``deadline``.

    Returns None when the writer has not closed it in time.
    """
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            return None
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
