"""A site's server-side state: data generated from a seed, guarded by one lock.

uvicorn runs a site's handlers on its own thread while the environment resets the state and
its predicates read it from another, so every read or change of ``data`` happens inside
``with state.lock:``. Handlers and predicates take ``state.data`` afresh under the lock each
time, so a reset between two requests is always seen whole.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

DataT = TypeVar("DataT")


class SiteState(Generic[DataT]):
    """One site's mutable data, rebuilt from a seed by ``generate`` on every reset.

    Args:
        generate: Builds the site's data for a seed; must be deterministic and cheap (it runs
            at every episode's reset).
        seed: The seed of the initial data.
    """

    def __init__(self, generate: Callable[[int], DataT], seed: int = 0) -> None:
        self.lock = threading.RLock()
        """Held around every read or change of :attr:`data`."""
        self._generate = generate
        self.seed = seed
        """The seed the data was last reset to."""
        self.data: DataT = generate(seed)
        """The site's data; only touch it while holding :attr:`lock`."""

    def reset(self, seed: int) -> None:
        """Replace the data with freshly generated data for ``seed``."""
        fresh = self._generate(seed)
        with self.lock:
            self.data = fresh
            self.seed = seed

    def snapshot(self) -> DataT:
        """A deep copy of the current data, for :meth:`restore`."""
        with self.lock:
            return copy.deepcopy(self.data)

    def restore(self, snapshot: DataT) -> None:
        """Put back data taken by :meth:`snapshot` (copied, so the snapshot can be reused)."""
        fresh = copy.deepcopy(snapshot)
        with self.lock:
            self.data = fresh
