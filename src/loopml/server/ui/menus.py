"""The runs page's experiment menu, read at most every few seconds.

The menu shows each experiment with its number of runs, and counting them reads the
whole runs table: at 100,000 runs that cost more than the page's own search. One list per
UI, shared by every viewer (every role may read experiments), is refreshed when it is
older than `ttl_s` or lacks an experiment a page asks for, so a new experiment is never
missing from a page that filters on it; only the counts may lag by `ttl_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

Experiments = list[dict[str, Any]]
TTL_S = 5.0


class ExperimentMenu:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._items: Experiments = []

    def get(self, read: Callable[[], Experiments], wanted: Iterable[str] = ()) -> Experiments:
        """The experiments, from `read` when the list is stale or misses one of `wanted`."""
        with self._lock:
            items, read_at = self._items, self._read_at
        names = {e["name"] for e in items}
        fresh = time.monotonic() - read_at < self.ttl_s
        if fresh and all(name in names for name in wanted):
            return items
        found = read()
        with self._lock:
            self._items, self._read_at = found, time.monotonic()
        return found
