"""Two sandboxes side by side: neither sees the other's files, processes or sockets.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import time

from prmgym.errors import SandboxError
from tests.sandboxes.attack_helpers import (
    PWNED,
    TAG,
    host_processes_running,
    python,
    sleep_arg,
    wait_for_process,
)

# -- two sandboxes -------------------------------------------------------------------------------


def test_sandboxes_cannot_see_each_others_files(pair):
    first, second = pair
    first.exec(f"touch /workspace/{PWNED} /tmp/{PWNED} /dev/shm/{PWNED}")
    result = second.exec(
        f"ls /workspace /tmp /dev/shm /proc/*/root/workspace 2>/dev/null | grep {PWNED};"
        f" touch /workspace/{PWNED}-second"
    )
    assert PWNED not in result.stdout
    listing = first.exec("ls /workspace").stdout.split()
    assert PWNED in listing and f"{PWNED}-second" not in listing


def test_sandboxes_cannot_see_or_signal_each_others_processes(pair):
    first, second = pair
    first.exec(f"sleep {sleep_arg(7)} >/dev/null 2>&1 &")
    victims = wait_for_process("sleep", sleep_arg(7))
    assert len(victims) == 1
    result = second.exec(
        f"ps -eo args | grep -c 'sleep {sleep_arg(7)}$'; kill -9 {victims[0]} && echo KILLED"
    )
    assert result.stdout.startswith("0\n") and "KILLED" not in result.stdout
    assert host_processes_running("sleep", sleep_arg(7)) == victims
    first.exec("kill %1")


def test_sandboxes_cannot_reach_each_others_abstract_sockets(pair):
    first, second = pair
    name = f"\\0prmgym-pair-{TAG}"
    listener = f"""
import socket, time
server = socket.socket(socket.AF_UNIX)
server.bind("{name}")
server.listen()
print("listening", flush=True)
time.sleep(30)
"""
    first.write_file("listen.py", listener.encode())
    first.exec("python3 listen.py > listen.log 2>&1 &")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if b"listening" in first.read_file("listen.log"):
                break
        except SandboxError:
            pass  # the shell has not made the file yet
        time.sleep(0.05)
    connect = f"""
import socket
try:
    socket.socket(socket.AF_UNIX).connect("{name}")
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
"""
    assert "CONNECTED" in python(first, connect).stdout  # the socket is there...
    assert "CONNECTED" not in python(second, connect).stdout  # ...but not for the other one
    first.exec("kill %1")
