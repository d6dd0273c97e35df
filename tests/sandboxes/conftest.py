"""Fixtures of the attack tests (``test_attacks_*.py``); their helpers are in attack_helpers.py.

Module-scoped fixtures are made once per test file: each file gets its own host targets and
shared sandboxes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from prmgym.sandboxes.bubblewrap import BubblewrapSandbox
from tests.sandboxes.attack_helpers import (
    CANARY,
    LIMITS,
    SECRET,
    SECRET_NAME,
    Host,
    close_and_check,
    make_sandbox,
    sha256,
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """The host-side targets; the host's environment holds a secret while the module runs."""
    folder = tmp_path_factory.mktemp("host")
    (folder / "canary.txt").write_text(CANARY)
    seed = tmp_path_factory.mktemp("seed")
    (seed / "seed.txt").write_text("seed\n")
    try:
        shadow = Path("/etc/shadow").read_text().splitlines()[0]
    except (OSError, IndexError):
        shadow = "root:"
    os.environ[SECRET_NAME] = SECRET
    try:
        yield Host(
            folder=folder,
            canary=folder / "canary.txt",
            seed=seed,
            shadow=shadow,
            passwd_sha=sha256(Path("/etc/passwd")),
            hostname=socket.gethostname(),
        )
    finally:
        os.environ.pop(SECRET_NAME, None)


@pytest.fixture(scope="module")
def box(host: Host) -> Iterator[BubblewrapSandbox]:
    """A sandbox shared by attacks that only probe (they leave it as it was)."""
    sandbox = make_sandbox(host)
    yield sandbox
    close_and_check(sandbox)


@pytest.fixture
def fresh(host: Host) -> Iterator[BubblewrapSandbox]:
    """A sandbox of its own, for attacks that break things."""
    sandbox = make_sandbox(host, replace(LIMITS, timeout_s=2))
    yield sandbox
    close_and_check(sandbox)
    host.assert_unchanged()


@pytest.fixture(scope="module")
def pair(host: Host) -> Iterator[tuple[BubblewrapSandbox, BubblewrapSandbox]]:
    """Two sandboxes side by side."""
    first, second = make_sandbox(host), make_sandbox(host)
    yield first, second
    close_and_check(first)
    close_and_check(second)
