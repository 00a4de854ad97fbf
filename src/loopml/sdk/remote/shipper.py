"""One background thread per remote client that ships the metric streams of its open runs.

Each open stream is shipped every `flush_interval_s` seconds, or as soon as it asks
(`wake`: it holds `flush_points` points). A thread per run would cost its start and its
wake-ups on every run, which is most of the client's time when a script makes many short
runs; one thread serves them all. Streams of different clients (different servers) never
share a thread, so a server that is down delays only its own clients' shipments.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Protocol


class Shippable(Protocol):
    """What the thread needs of a stream (`MetricStream`)."""

    @property
    def flush_interval_s(self) -> float: ...

    def ship_round(self) -> bool:
        """Ship what is pending; False when the stream must not be shipped again."""
        ...


class Shipper:
    """The shipping thread of one client, started with its first stream."""

    def __init__(self, name: str = "loopml-ship") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._due: dict[Shippable, float] = {}  # each stream's next round (monotonic)
        self._urgent: set[Shippable] = set()
        self._thread: threading.Thread | None = None
        self._closed = False
        # When the thread wakes next: an `add` due later needs no wake-up (a context switch
        # per run). Without streams it still wakes every `_idle_s`, for the same reason.
        self._wakes_at = 0.0
        self._idle_s = 1.0
        _SHIPPERS.add(self)

    def add(self, stream: Shippable) -> None:
        """Ship `stream` every `flush_interval_s` seconds from now on (until `remove`)."""
        with self._cond:
            if self._closed or stream in self._due:
                return
            due = self._due[stream] = time.monotonic() + stream.flush_interval_s
            self._idle_s = stream.flush_interval_s
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
                self._thread.start()
            elif due < self._wakes_at:
                self._cond.notify()  # the thread sleeps past this stream's first round

    def wake(self, stream: Shippable) -> None:
        """Ship `stream` now rather than at its next round."""
        with self._cond:
            if stream in self._due and stream not in self._urgent:
                self._urgent.add(stream)
                self._cond.notify()

    def remove(self, stream: Shippable) -> None:
        """No more rounds for `stream` (one under way finishes)."""
        with self._cond:
            self._due.pop(stream, None)
            self._urgent.discard(stream)

    def close(self) -> None:
        """Stop the thread after the round under way."""
        with self._cond:
            self._closed = True
            self._due.clear()
            self._urgent.clear()
            self._cond.notify()

    def _forked(self) -> None:
        """In a forked child: no thread, and a lock the parent's thread may have held at
        the fork; the parent's streams are the parent's to ship."""
        self._cond = threading.Condition()
        self._due = {}
        self._urgent = set()
        self._thread = None

    @property
    def streams(self) -> int:
        with self._cond:
            return len(self._due)

    def _run(self) -> None:
        while True:
            due = self._next_round()
            if due is None:
                return
            for stream in due:
                if not stream.ship_round():
                    self.remove(stream)

    def _next_round(self) -> list[Shippable] | None:
        """The streams whose round has come (waiting for one); None once closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                due = [s for s, at in self._due.items() if at <= now or s in self._urgent]
                if due:
                    for stream in due:
                        self._due[stream] = now + stream.flush_interval_s
                    self._urgent.clear()
                    return due
                wait = min(self._due.values()) - now if self._due else self._idle_s
                self._wakes_at = now + wait
                self._cond.wait(wait)
            return None


_SHIPPERS: weakref.WeakSet[Shipper] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for shipper in list(_SHIPPERS):
        shipper._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
