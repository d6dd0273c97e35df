"""Attacks on the shell protocol: fake markers and the control files in ``/.prmgym``.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import os
import time

import pytest

from prmgym.errors import SandboxError
from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    PWNED,
    Host,
    answers,
    sandbox_path,
    with_deadline,
)

# -- the control files in /.prmgym ---------------------------------------------------------------


def test_a_fake_done_marker_in_the_output_is_only_output(fresh: BubblewrapSandbox):
    result = fresh.exec(
        'echo "__prmgym_done__ 0123456789abcdef 0"; echo "__prmgym_shell_exited__ 0"; (exit 5)'
    )
    assert result.exit_code == 5 and not result.restarted
    assert "__prmgym_done__" in result.stdout
    answers(fresh)


def test_a_fake_marker_on_the_keepers_pipe_only_fools_its_own_episode(fresh: BubblewrapSandbox):
    fresh.exec(
        'echo "__prmgym_shell_exited__ 0" > /proc/$PPID/fd/1;'
        ' echo "__prmgym_done__ 0123456789abcdef 0" > /proc/$PPID/fd/1; sleep 0.5; touch late'
    )
    answers(fresh)
    assert fresh.read_file("late") == b""


def test_a_rewritten_command_file_does_not_change_the_next_command(fresh: BubblewrapSandbox):
    fresh.exec(f"printf 'touch /workspace/{PWNED}' > /.prmgym/cmd; printf x > /.prmgym/out")
    answers(fresh)
    assert fresh.exec(f"ls /workspace/{PWNED} || echo absent").stdout == "absent\n"


CONTROL_SWAPS = {
    "out_made_a_fifo": "rm /.prmgym/out && mkfifo /.prmgym/out",
    "cmd_made_a_fifo": "rm /.prmgym/cmd && mkfifo /.prmgym/cmd",
    "err_made_a_folder": "rm /.prmgym/err && mkdir /.prmgym/err",
    "out_made_a_link_to_etc_passwd": "rm /.prmgym/out && ln -s /etc/passwd /.prmgym/out",
}


@pytest.mark.parametrize("attack", list(CONTROL_SWAPS))
def test_a_replaced_control_file_does_not_stop_the_next_command(
    fresh: BubblewrapSandbox, host: Host, attack: str
):
    fresh.exec(CONTROL_SWAPS[attack])
    readers: list[int] = []

    def unblock() -> None:
        for name in ("cmd", "out", "err"):
            try:
                path = sandbox_path(fresh, f"/.prmgym/{name}")
                readers.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass

    try:
        hung, outcome = with_deadline(lambda: fresh.exec("echo ok"), 3, unblock)
    finally:
        for fd in readers:
            os.close(fd)
    host.assert_unchanged()  # the host never wrote through the link to its own /etc/passwd
    assert not hung, "the host blocked opening a fifo the command put in /.prmgym"
    assert "error" not in outcome, f"the next command raised instead of running: {outcome}"
    answers(fresh)


CONTROL_SWAPPER = """
import os
i = 0
while True:
    i += 1
    for name in ("/.prmgym/out", "/.prmgym/err"):
        for remove in (os.unlink, os.rmdir):
            try:
                remove(name)
            except OSError:
                pass
        try:
            if i % 2:
                os.symlink("/dev/null", name)
            else:
                os.mkdir(name)
        except OSError:
            pass
"""


@pytest.mark.slow
def test_a_background_job_swapping_control_files_does_not_break_exec(fresh: BubblewrapSandbox):
    # Links and folders in place of out/err: the shell's redirections never block, so the job
    # outlives every command and races the host's own replacing of the files.
    fresh.write_file("swapper.py", CONTROL_SWAPPER.encode())
    fresh.exec("(python3 swapper.py >/dev/null 2>&1 &); sleep 0.3")
    failures: list[str] = []
    calls = 0

    def run_many() -> None:
        nonlocal calls
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not failures:
            calls += 1
            try:
                fresh.exec("echo ok")
            except Exception as exc:  # noqa: BLE001 - what the attack makes exec raise
                failures.append(f"{type(exc).__name__}: {exc}")

    hung, _ = with_deadline(run_many, 60, fresh._kill_all_but_keeper)
    assert not hung, "exec blocked the host on something in /.prmgym"
    assert not failures, f"exec() #{calls} raised {failures[0]}"
    fresh._kill_all_but_keeper()
    answers(fresh)


DIR_SWAPPER = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for i in range(8):
    os.mkdir(f"d{i}")
    with open(f"d{i}/f", "w") as f:
        f.write("x")
    os.symlink("/etc", f"l{i}")
pairs = [(f"d{i}".encode(), f"l{i}".encode()) for i in range(8)]
while True:
    for a, b in pairs:
        libc.renameat2(-100, a, -100, b, 2)  # RENAME_EXCHANGE: a folder and a link trade names
"""


def test_snapshot_while_folders_turn_into_links(fresh: BubblewrapSandbox):
    fresh.write_file("swap.py", DIR_SWAPPER.encode())
    fresh.exec("(python3 swap.py >/dev/null 2>&1 &); sleep 0.3")
    outcomes: list[str] = []
    for _ in range(30):
        try:
            fresh.snapshot()
            outcomes.append("token")
        except SandboxError:
            outcomes.append("SandboxError")
        except OSError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    fresh._kill_all_but_keeper()
    assert fresh._host is not None
    copied = [p for p in fresh._host.rglob("*") if p.name in ("passwd", "ssl", "ld.so.cache")]
    assert not [p for p in copied if "snapshot-" in str(p)], "a snapshot followed a link"
    others = [o for o in outcomes if o not in ("token", "SandboxError")]
    assert not others, f"{len(others)} of 30 snapshots raised {others[:3]}"
