"""Network attacks: the internet, the host's loopback, DNS and the host's abstract sockets.

Shared helpers: attack_helpers.py; fixtures: conftest.py; ``sandboxes/README.md`` tabulates the
attacks.
"""

from __future__ import annotations

import socket

import pytest

from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    TAG,
    python,
)

# -- network ---------------------------------------------------------------------------------


def test_internet_by_ip_is_unreachable(box: BubblewrapSandbox):
    result = python(
        box,
        """
import socket
for address in [("1.1.1.1", 80), ("8.8.8.8", 53)]:
    try:
        socket.create_connection(address, timeout=2).close()
        print("CONNECTED", address)
    except OSError as exc:
        print("refused", exc)
""",
    )
    assert "CONNECTED" not in result.stdout and result.stdout.count("refused") == 2
    bash = box.exec("exec 3<>/dev/tcp/1.1.1.1/80 && echo CONNECTED")
    assert "CONNECTED" not in bash.stdout


def test_a_server_on_the_hosts_loopback_is_unreachable(box: BubblewrapSandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        result = python(
            box,
            f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
""",
        )
        assert "CONNECTED" not in result.stdout
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_names_do_not_resolve(box: BubblewrapSandbox):
    result = box.exec("cat /etc/resolv.conf; getent hosts example.com pypi.org && echo RESOLVED")
    assert "RESOLVED" not in result.stdout and "nameserver" not in result.stdout
    lookup = python(
        box,
        """
import socket
try:
    print("RESOLVED", socket.getaddrinfo("example.com", 80))
except OSError as exc:
    print("failed", exc)
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))
    print("SENT")
except OSError as exc:
    print("failed", exc)
""",
    )
    assert "RESOLVED" not in lookup.stdout and "SENT" not in lookup.stdout


def test_an_abstract_unix_socket_of_the_host_is_unreachable(box: BubblewrapSandbox):
    server = socket.socket(socket.AF_UNIX)
    server.bind(f"\0prmgym-attack-{TAG}")
    server.listen()
    server.setblocking(False)
    try:
        result = python(
            box,
            f"""
import socket
try:
    socket.socket(socket.AF_UNIX).connect("\\0prmgym-attack-{TAG}")
    print("CONNECTED")
except OSError as exc:
    print("refused", exc)
""",
        )
        assert "CONNECTED" not in result.stdout and "refused" in result.stdout
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
