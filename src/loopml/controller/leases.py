"""Keeping a claimed event's lease alive while its (possibly long) work runs.

A background thread renews the lease every third of its length. If a renewal finds the
event no longer this controller's (another one took it after a stall longer than the
lease), `lost` turns True and the work's result will not be recorded: the CAS of `finish`
matches no row, so the event is never completed twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from loopml.controller.work_queue import EventQueue

log = logging.getLogger("loopml.controller")


class LeaseKeeper:
    """`with LeaseKeeper(queue, event_id, clock): run()` renews the lease meanwhile."""

    def __init__(self, queue: EventQueue, event_id: str, clock: Callable[[], float]) -> None:
        self.queue = queue
        self.event_id = event_id
        self.clock = clock
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_until_stopped, name=f"lease-{event_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _renew_until_stopped(self) -> None:
        period = max(self.queue.lease_s / 3.0, 0.05)
        while not self._stop.wait(period):
            try:
                if not self.queue.renew(self.event_id, self.clock() + self.queue.lease_s):
                    self.lost = True
                    log.warning("lost the lease of trigger event %s", self.event_id)
                    return
            except Exception:  # a store hiccup: try again next period, the lease has slack
                log.exception("could not renew the lease of trigger event %s", self.event_id)
