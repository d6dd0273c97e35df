"""Attacks on the host's own calls into the sandbox: stopping them, filling what they write to.

Each call that such an attack could block forever runs under ``with_deadline`` (a generous
guard, not a timing check). Shared helpers: attack_helpers.py; fixtures: conftest.py;
``sandboxes/README.md`` tabulates the attacks.
"""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from prmgym.sandboxes.host_side import parent_of
from tests.sandboxes.attack_helpers import (
    LIMITS,
    Host,
    answers,
    close_and_check,
    make_sandbox,
    sandbox_path,
    with_deadline,
)

GUARD_S = 120
"""Far past every timeout the sandbox has: a call still running then is hung."""


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"the attack never got going: {what}"
        time.sleep(0.02)


def unstop(box: BubblewrapSandbox) -> None:
    """Release a host call the attack blocked: kill the writer, resume, drain the pipe."""
    box._kill_all_but_keeper()
    for pid in box._sandbox_pids():
        os.kill(pid, signal.SIGCONT)
    try:
        fd = os.open(f"/proc/{box._keeper_pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        while os.read(fd, 1 << 16):
            pass
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


# The job outlives its command: once the host has the command's result, it stops the shell and
# the keeper, then (with `fill`) writes to the keeper's stdin through /proc until the pipe the
# host sends commands on is full.
STOPPER = "keeper=$PPID shell=$$; (sleep 0.5; kill -STOP $keeper $shell; {fill}) >/dev/null 2>&1 &"
FILL = "head -c 1000000 /dev/zero > /proc/$keeper/fd/0"


@pytest.mark.slow
@pytest.mark.parametrize("fill", [False, True], ids=["stopped", "stopped_and_pipe_filled"])
def test_a_stopped_shell_and_keeper_cannot_hang_the_host(fresh: BubblewrapSandbox, fill: bool):
    fresh.exec("echo kept > kept.txt")
    fresh.exec(STOPPER.format(fill=FILL if fill else "true"))
    (shell,) = [p for p in fresh._sandbox_pids() if parent_of(p) == fresh._keeper_pid]
    wait_until(lambda: state(fresh._keeper_pid) == state(shell) == "T", "shell and keeper stop")
    if fill:
        pipe = fresh._process.stdin.fileno()
        wait_until(lambda: not select.select([], [pipe], [], 0)[1], "the keeper's pipe fills")
    hung, outcome = with_deadline(lambda: fresh.exec("echo ok"), GUARD_S, lambda: unstop(fresh))
    assert not hung, "the host blocked on a stopped sandbox"
    assert "error" not in outcome, outcome
    result = outcome["value"]
    assert result.restarted, result
    if fill:
        assert result.stdout == "ok\n" and "stopped reading" in result.restarted, result
    answers(fresh)
    assert fresh.read_file("kept.txt") == b"kept\n"  # restarted, not rebuilt


FILLS = {
    "one_big_file": "dd if=/dev/zero of=/.prmgym/fill bs=1M count=64",
    "a_file_a_job_keeps_open": (
        "(exec 3>/.prmgym/fill; dd if=/dev/zero bs=1M count=64 >&3; sleep 600)"
        " >/dev/null 2>&1 & sleep 1"
    ),
    "a_folder_of_files": "mkdir /.prmgym/d && for i in $(seq 200); do"
    " head -c 100000 /dev/zero > /.prmgym/d/$i || break; done",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(FILLS))
def test_a_filled_control_folder_cannot_mute_the_sandbox(fresh: BubblewrapSandbox, attack: str):
    fresh.exec(FILLS[attack], timeout=10)
    control = os.statvfs(sandbox_path(fresh, "/.prmgym"))
    assert control.f_bavail * control.f_frsize < 64 << 10, "the attack left room in /.prmgym"
    hung, outcome = with_deadline(lambda: fresh.exec("echo ok"), GUARD_S, lambda: unstop(fresh))
    assert not hung and "error" not in outcome, outcome
    assert outcome["value"].stdout == "ok\n", outcome
    answers(fresh)


def test_a_full_workspace_refuses_a_write_as_a_sandbox_error(fresh: BubblewrapSandbox):
    fresh.exec("dd if=/dev/zero of=fill bs=1M count=32", timeout=10)
    with pytest.raises(SandboxError, match="cannot write"):
        fresh.write_file("more.txt", b"x" * (1 << 20))
    answers(fresh)


def host_blocks(folder: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


def test_a_snapshot_keeps_sparse_files_sparse(fresh: BubblewrapSandbox):
    # 8 files of 60 MB each (under the 64 MB file size cap), a byte of data in each.
    fresh.exec("for i in $(seq 8); do truncate -s 60M s$i && printf x >> s$i; done")
    token = fresh.snapshot()
    assert fresh._host is not None
    written = host_blocks(fresh._host / token)
    assert written < fresh.limits.workspace_mb << 20, f"the snapshot wrote {written} bytes"
    fresh.exec("rm s*")
    fresh.restore(token)
    sizes = fresh.exec("stat -c '%s %b' s1 s8").stdout.split()
    assert sizes[0] == sizes[2] == str((60 << 20) + 1) and int(sizes[1]) < 64, sizes
    assert fresh.exec("tail -c 1 s8").stdout == "x"


def test_a_snapshot_of_more_files_than_the_quota_allows_fails_cleanly(host: Host):
    # A 1 MB workspace allows a snapshot 256 entries; empty files cost the tmpfs nothing.
    box = make_sandbox(host, replace(LIMITS, workspace_mb=1))
    try:
        box.exec("mkdir many && cd many && touch $(seq 300)")
        with pytest.raises(SandboxError, match="quota"):
            box.snapshot()
        assert box._host is not None
        assert not list(box._host.glob("snapshot-*")), "a failed snapshot left files on the host"
        answers(box)
    finally:
        close_and_check(box)


@pytest.mark.parametrize("token", ["snapshot-1/../../../etc", "../snapshot-1", "snapshot-x"])
def test_restore_reads_only_a_snapshot_of_this_sandbox(fresh: BubblewrapSandbox, token: str):
    fresh.snapshot()
    with pytest.raises(SandboxError, match="no snapshot"):
        fresh.restore(token)
    assert fresh.exec("ls /workspace/passwd || echo absent").stdout == "absent\n"
