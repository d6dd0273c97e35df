"""Serving every site on loopback: one uvicorn server per site, each on an ephemeral port.

Usage, as the web environment does it::

    with SiteServer() as server:              # starts the sites (a few tens of milliseconds)
        server.reset(seed=3)                  # every episode: fresh state from the seed
        page.goto(server.url("shop") + "/")   # http://127.0.0.1:PORT/
        ...
        with server.state("shop").lock:       # predicates read state in-process
            cart = dict(server.state("shop").data.cart)

Each site's socket is bound to 127.0.0.1 port 0 here, before its server starts, so the port
is known at once and nothing else can take it; the server runs in a daemon thread with its
own event loop, access log off and the process's logging left alone. Several SiteServers
can run in one process (vector envs): they share nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI

from prmgym.envs.web.sites import admin, admin_data, forum, forum_data, shop, shop_data
from prmgym.envs.web.sites.state import SiteState
from prmgym.errors import PrmgymError

HOST = "127.0.0.1"
"""The only interface the sites listen on."""


SiteName = Literal["shop", "forum", "admin"]
"""The sites' names, as tasks and predicates spell them (the keys of :data:`SITES`)."""


class SiteError(PrmgymError):
    """A site server could not start, or was used in a way its state does not allow."""


@dataclass(frozen=True)
class SiteSpec:
    """How to build one site: its data from a seed, and its app over that state."""

    generate: Callable[[int], Any]
    create_app: Callable[[SiteState[Any]], FastAPI]


SITES: dict[str, SiteSpec] = {
    "shop": SiteSpec(shop_data.generate_shop, shop.create_app),
    "forum": SiteSpec(forum_data.generate_forum, forum.create_app),
    "admin": SiteSpec(admin_data.generate_admin, admin.create_app),
}
"""Every site by name, in the order they start."""


class _Running:
    """One started site: its uvicorn server, its thread and its bound socket."""

    def __init__(self, name: str, app: FastAPI) -> None:
        # proto=IPPROTO_TCP, not the default 0: asyncio only turns Nagle's algorithm off
        # (TCP_NODELAY) on connections whose listening socket says TCP, and with it on every
        # keep-alive request after the first waits ~40 ms for a delayed ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind((HOST, 0))
        self.port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            host=HOST,
            port=self.port,
            lifespan="off",
            access_log=False,
            log_config=None,  # uvicorn's default would reconfigure the process's logging
            log_level="warning",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=f"prmgym-web-{name}-{self.port}",
            daemon=True,  # a forgotten close() must not keep the interpreter alive
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True


class SiteServer:
    """Serves each site on its own 127.0.0.1 port, over state reset from a seed.

    Args:
        seed: The seed of the sites' initial state.
        sites: Which sites to serve (default all of :data:`SITES`).
        startup_timeout: Seconds to wait for the servers to accept connections.

    Raises:
        SiteError: A site name is unknown.
    """

    def __init__(
        self, seed: int = 0, sites: Sequence[str] | None = None, startup_timeout: float = 10.0
    ) -> None:
        names = list(SITES) if sites is None else list(sites)
        unknown = [name for name in names if name not in SITES]
        if unknown or not names:
            raise SiteError(f"unknown sites {unknown or names}; the sites are {', '.join(SITES)}")
        self._states = {name: SiteState(SITES[name].generate, seed) for name in names}
        self._startup_timeout = startup_timeout
        self._running: dict[str, _Running] = {}

    @property
    def sites(self) -> tuple[str, ...]:
        """The names of the sites this server serves."""
        return tuple(self._states)

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran and :meth:`close` has not."""
        return bool(self._running)

    def start(self) -> SiteServer:
        """Start every site's server and wait until all accept connections; returns self.

        Raises:
            SiteError: Already started, or a server did not come up in time.
        """
        if self._running:
            raise SiteError("this SiteServer is already started; close() it before restarting")
        for name, state in self._states.items():
            self._running[name] = _Running(name, SITES[name].create_app(state))
        deadline = time.monotonic() + self._startup_timeout
        for name, running in self._running.items():
            while not running.server.started:
                if not running.thread.is_alive() or time.monotonic() > deadline:
                    self.close()
                    raise SiteError(
                        f"the {name!r} site did not start on {HOST}:{running.port} within"
                        f" {self._startup_timeout} s; see the uvicorn errors logged above"
                    )
                time.sleep(0.001)
        return self

    def url(self, site: str) -> str:
        """The site's base URL, ``http://127.0.0.1:PORT`` (no trailing slash).

        Raises:
            SiteError: The site is unknown or the server is not started.
        """
        self._check(site)
        if site not in self._running:
            raise SiteError("the sites are not started; call start() or use `with SiteServer()`")
        return f"http://{HOST}:{self._running[site].port}"

    def state(self, site: str) -> SiteState[Any]:
        """The site's state; read or change its ``data`` only while holding its ``lock``.

        Raises:
            SiteError: The site is unknown.
        """
        self._check(site)
        return self._states[site]

    def reset(self, seed: int) -> None:
        """Reset every site's state to the data generated from ``seed``."""
        for state in self._states.values():
            state.reset(seed)

    def snapshot(self) -> dict[str, Any]:
        """Every site's data, deep-copied; :meth:`restore` puts it back."""
        return {name: state.snapshot() for name, state in self._states.items()}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back the data :meth:`snapshot` took (the snapshot stays reusable).

        Raises:
            SiteError: The snapshot is of other sites.
        """
        if set(snapshot) != set(self._states):
            raise SiteError(
                f"the snapshot holds sites {sorted(snapshot)}, this server {sorted(self._states)}"
            )
        for name, data in snapshot.items():
            self._states[name].restore(data)

    def close(self) -> None:
        """Stop every server and join its thread; safe to call twice."""
        running, self._running = list(self._running.values()), {}
        for item in running:  # all at once: each takes up to uvicorn's 0.1 s tick to notice
            item.stop()
        for item in running:
            item.thread.join(timeout=5)
            item.socket.close()

    def __enter__(self) -> SiteServer:
        return self if self.started else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check(self, site: str) -> None:
        if site not in self._states:
            raise SiteError(f"unknown site {site!r}; this server serves {', '.join(self._states)}")
