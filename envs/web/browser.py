"""One Chromium per process, driven by Playwright from a thread of its own.

Playwright's objects belong to the event loop that made them, while envs are stepped from
whatever thread the caller uses (the agent runner steps envs from a thread pool). So the
browser lives on a private asyncio loop in a daemon thread, and every call is a coroutine
handed to that loop (:meth:`Browser.run`). Many envs share the browser, each with its own
context per episode (cookies, storage and pages apart), and their calls interleave on the
loop.

Which Chromium: ``$PRMGYM_CHROMIUM`` if set, else Debian's ``/usr/bin/chromium`` (or
``chromium-browser``) where installed, else the one Playwright manages
(``playwright install chromium``). The browser is closed when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from prmgym.errors import ConfigError

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import Playwright

T = TypeVar("T")

CHROMIUM_ENV = "PRMGYM_CHROMIUM"
"""Environment variable naming the Chromium executable to drive."""
_CANDIDATES = ("chromium", "chromium-browser")
# Headless Chromium as a root user needs --no-sandbox; our pages are our own sites on
# loopback and every request is filtered by the env (see prmgym.envs.web.env).
_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio"]


def chromium_executable() -> str | None:
    """The Chromium to drive: ``$PRMGYM_CHROMIUM``, a system Chromium, or None (Playwright's).

    Raises:
        ConfigError: ``$PRMGYM_CHROMIUM`` names no executable file.
    """
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise ConfigError(f"${CHROMIUM_ENV}={named!r} is not an executable file")
        return named
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """A Chromium and the event-loop thread that drives it.

    Args:
        executable: The Chromium to launch; default :func:`chromium_executable`.
        headless: Run without a window.
    """

    def __init__(self, executable: str | None = None, headless: bool = True):
        self.executable = executable if executable is not None else chromium_executable()
        self.headless = headless
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self.browser: PlaywrightBrowser | None = None
        try:
            self.run(self._launch(), timeout=60.0)
        except BaseException:
            self.close()
            raise

    async def _launch(self) -> None:
        try:
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise ConfigError(
                "the web family needs Playwright: pip install 'prmgym[web]'"
                " (and a Chromium: apt install chromium, or playwright install chromium)"
            ) from exc
        self._playwright = await async_playwright().start()
        try:
            self.browser = await self._playwright.chromium.launch(
                executable_path=self.executable, headless=self.headless, args=_ARGS
            )
        except Exception as exc:
            raise ConfigError(
                f"Chromium did not start ({exc}); install one (apt install chromium, or"
                f" playwright install chromium) or name it in ${CHROMIUM_ENV}"
            ) from exc

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the browser's loop and return its result (or raise its error).

        Raises:
            TimeoutError: It took longer than ``timeout`` seconds (it is cancelled).
        """
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @property
    def alive(self) -> bool:
        """Whether the browser is still connected."""
        return self.browser is not None and self.browser.is_connected()

    def close(self) -> None:
        """Close the browser and stop its thread (idempotent)."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                self.run(self._shutdown(), timeout=30.0)
            except Exception:  # a crashed browser is gone already; the loop still stops
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self.browser, self._playwright = None, None


_shared: Browser | None = None
_shared_lock = threading.Lock()


def shared_browser() -> Browser:
    """This process's browser, launched on first use (and again if it crashed)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            if _shared is not None:
                _shared.close()
            _shared = Browser()
            atexit.register(_shared.close)
        return _shared
