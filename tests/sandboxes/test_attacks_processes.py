"""Attacks on processes: killing the sandbox's own, tracing the host's, reading init's memory.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    SECRET,
    Host,
    answers,
    close_and_check,
    descendants,
    make_sandbox,
    no_new_processes,
    python,
)

# -- killing the sandbox's own processes ---------------------------------------------------------

KILLS = {
    "kill_9_the_keeper": "kill -9 $PPID; sleep 1",
    "kill_9_minus_1": "kill -9 -1; sleep 1",
    "kill_init": "kill -TERM 1; kill -KILL 1; kill -HUP 1; sleep 0.5",
    "kill_9_own_shell": "kill -9 $$",
    "exec_away_the_shell": "exec sleep 0",
}


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(KILLS))
def test_killing_the_sandboxes_own_processes_is_survived(host: Host, attack: str):
    before = descendants()
    box = make_sandbox(host)
    box.exec("echo kept > kept.txt")
    result = box.exec(KILLS[attack])
    if attack != "kill_init":
        assert result.restarted, result
    after = answers(box)
    assert not after.timed_out
    close_and_check(box)
    no_new_processes(before)
    host.assert_unchanged()


# -- ptrace ------------------------------------------------------------------------------------

PTRACE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for pid in map(int, sys.argv[1:]):
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        print("ATTACHED", pid)
    else:
        print("refused", pid, os.strerror(ctypes.get_errno()))
"""


def tracer_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("TracerPid:")[1].split()[0])


@pytest.mark.parametrize("tool", ["ctypes", "strace", "gdb"])
def test_a_host_process_cannot_be_traced(box: BubblewrapSandbox, tool: str):
    pid = os.getpid()
    if tool == "ctypes":
        box.write_file("ptrace.py", PTRACE.encode())
        command = f"python3 ptrace.py {pid}"
    elif tool == "strace":
        command = f"timeout 2 strace -p {pid} -o /dev/null && echo ATTACHED"
    else:
        command = (
            f"timeout 5 gdb -batch -p {pid} -ex 'info proc' 2>&1 | grep -i 'pytest'"
            " && echo ATTACHED"
        )
    if tool != "ctypes" and not Path(f"/usr/bin/{tool}").exists():
        pytest.skip(f"no {tool} on this host")
    result = box.exec(command, timeout=10)
    assert "ATTACHED" not in result.stdout, result
    assert tracer_of(pid) == 0
    answers(box)


def test_another_sandboxes_processes_cannot_be_traced(pair):
    first, second = pair
    second.write_file("ptrace.py", PTRACE.encode())
    pids = first._sandbox_pids()
    result = second.exec("python3 ptrace.py " + " ".join(map(str, pids)))
    assert "ATTACHED" not in result.stdout and result.stdout.count("refused") == len(pids)
    assert all(tracer_of(pid) == 0 for pid in pids)
    answers(first)
    answers(second)


def test_the_sandbox_init_memory_holds_no_host_secret(box: BubblewrapSandbox):
    # pid 1 is bwrap itself, started by the host: its memory (read like a debugger would,
    # through /proc/1/mem) must not hold what the host's environment holds.
    result = python(
        box,
        f"""
fields = open("/proc/1/stat").read().rsplit(")", 1)[1].split()
start, end = int(fields[-3]), int(fields[-2])
with open("/proc/1/mem", "rb") as mem:
    mem.seek(start)
    print("LEAKED" if b"{SECRET}" in mem.read(end - start) else "clean")
""",
    )
    assert "LEAKED" not in result.stdout, "the host's environment is in the sandbox init's memory"
    answers(box)
