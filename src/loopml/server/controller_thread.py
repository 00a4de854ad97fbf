"""The controller loop beside the REST API, in a thread of the `loopml server` process.

It acts as the server's own principal (bootstrap.py) on a client of its own, so its service
calls never depend on a request being answered. Several servers may each run one; only
the holder of the driver lease reconciles (controller/driver_lease.py), and when that
server dies another takes the lease over once it expires.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from loopml.config.settings import Settings
from loopml.controller import Controller
from loopml.controller.driver_lease import DriverLease
from loopml.controller.loop import ReconcileReport
from loopml.sdk import Client
from loopml.server.bootstrap import server_principal
from loopml.store.principal import FixedActor

log = logging.getLogger("loopml.server.controller")


class ControllerThread:
    """Start, then stop: one reconcile pass every `interval_s` seconds in between."""

    def __init__(self, settings: Settings, interval_s: float = 5.0, lease_s: float = 15.0) -> None:
        if interval_s <= 0 or lease_s <= interval_s:
            raise ValueError(
                f"interval_s must be positive and lease_s longer than it, got {interval_s!r} "
                f"and {lease_s!r}"
            )
        self.settings = settings
        self.interval_s = interval_s
        self.lease_s = lease_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        root = str(self.settings.root)
        if root not in sys.path:  # pipelines named "module:attr" of the workspace's code
            sys.path.insert(0, root)
        self._thread = threading.Thread(target=self._run, name="loopml-controller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        client = Client(self.settings)
        client.stores.identity = FixedActor(server_principal())
        try:
            loop = Controller(client)
            lease = DriverLease(client.stores, loop.owner, lease_s=self.lease_s)
            log.info("controller %s: a pass every %g s", loop.owner, self.interval_s)
            try:
                self._drive(loop, lease)
            finally:
                lease.release()
        except Exception:
            log.exception("the controller stopped")
        finally:
            client.close()

    def _drive(self, loop: Controller, lease: DriverLease) -> None:
        """A pass every interval while this server holds the lease."""
        held = False
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                now_held = lease.hold()
                if now_held != held:
                    log.info(
                        "controller %s %s the driver lease",
                        loop.owner,
                        "holds" if now_held else "lost",
                    )
                held = now_held
                if held:
                    _log_report(loop.reconcile_once())
            except Exception:  # the store is unreachable, say: the next pass tries again
                log.exception("controller pass failed")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def _log_report(report: ReconcileReport) -> None:
    for line in report.lines():
        log.info("%s", line)
