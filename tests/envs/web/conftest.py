"""Fixtures: one running SiteServer per test module, reset before each test that asks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from prmgym.envs.web.sites.server import SiteServer


@pytest.fixture(scope="module")
def running() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


@pytest.fixture
def server(running: SiteServer) -> SiteServer:
    """The module's server, reset to seed 0."""
    running.reset(0)
    return running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=10) as http:
        yield http
