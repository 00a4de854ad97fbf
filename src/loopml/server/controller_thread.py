"""The controller loop beside the REST API, in a thread of the `loopml server` process.

It acts as the server's own principal (bootstrap.py) on a client of its own, so its service
calls never depend on a request being answered. Several servers may each run one: the
controller's leases in the store keep two of them from doing the same work.
"""

from __future__ import annotations

import logging
import sys
import threading

from loopml.config.settings import Settings
from loopml.controller import Controller
from loopml.controller.loop import ReconcileReport
from loopml.sdk import Client
from loopml.server.bootstrap import server_principal
from loopml.store.principal import FixedActor

log = logging.getLogger("loopml.server.controller")


class ControllerThread:
    """Start, then stop: one reconcile pass every `interval_s` seconds in between."""

    def __init__(self, settings: Settings, interval_s: float = 5.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self.settings = settings
        self.interval_s = interval_s
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
            log.info("controller %s: a pass every %g s", loop.owner, self.interval_s)
            loop.run_forever(self.interval_s, self._stop, on_report=_log_report)
        except Exception:
            log.exception("the controller stopped")
        finally:
            client.close()

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def _log_report(report: ReconcileReport) -> None:
    for line in report.lines():
        log.info("%s", line)
