"""The controller: one reconcile loop that closes the ML loop.

Each pass, in order: run the scheduled monitors (their alerts feed alert triggers),
evaluate the triggers into events, launch the runnable events' pipelines one at a time
(and start the rollout a passed candidate asks for), then advance the active rollouts.
Every `compact_logs_every_s` it also compacts the prediction logs (maintenance: it does not
make a pass count as busy). Last, it sends the pass's events (and any still owed) to the
webhooks (loopml.events).

All state lives in the store, and every step is a compare-and-set on it, so the loop is
idempotent (a second pass at the same instant does nothing) and crash-safe (kill it at any
point; the next controller finds the events whose lease expired and finishes them, the
pipeline's cached steps and the rollout driver's idempotent start making sure no completed
work is repeated). Several controllers may run at once: leases keep them from doing the
same event twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopml.controller.launchers import PipelineRunLauncher, failure
from loopml.controller.leases import LeaseKeeper
from loopml.controller.ports import (
    ControllerClient,
    LaunchOutcome,
    PipelineLauncher,
    RolloutChange,
    RolloutDriver,
)
from loopml.controller.rollout_driver import RolloutServiceDriver
from loopml.controller.trigger_records import (
    PENDING,
    ROLLOUT_PENDING,
    RUNNING,
    SKIPPED_COOLDOWN,
    TriggerEvent,
    render_params,
)
from loopml.controller.work_queue import EventQueue
from loopml.errors import LoopmlError, ValidationError
from loopml.events import DispatchReport, WebhookDispatcher
from loopml.governance import append_event, require
from loopml.prediction_log.compaction import compact

log = logging.getLogger("loopml.controller")


@dataclass
class ReconcileReport:
    """What one pass did."""

    at: float
    monitors: dict[str, int] = field(default_factory=dict)  # monitor -> windows evaluated
    recorded: list[TriggerEvent] = field(default_factory=list)  # new events
    finished: list[TriggerEvent] = field(default_factory=list)  # pipelines that ended
    rollouts_started: list[TriggerEvent] = field(default_factory=list)
    rollouts: list[RolloutChange] = field(default_factory=list)  # rollouts that moved
    errors: list[str] = field(default_factory=list)
    compacted: int = 0  # prediction-log segments replaced by compaction
    webhooks: DispatchReport = field(default_factory=DispatchReport)

    @property
    def idle(self) -> bool:
        """True when the pass changed nothing."""
        return not (
            self.monitors
            or self.recorded
            or self.finished
            or self.rollouts_started
            or self.rollouts
            or self.errors
            or not self.webhooks.idle
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "monitors": self.monitors,
            "recorded": [e.to_dict() for e in self.recorded],
            "finished": [e.to_dict() for e in self.finished],
            "rollouts_started": [e.to_dict() for e in self.rollouts_started],
            "rollouts": [c.to_dict() for c in self.rollouts],
            "errors": self.errors,
            "compacted": self.compacted,
            "webhooks": self.webhooks.to_dict(),
        }

    def lines(self) -> list[str]:
        """One line per thing done, for people."""
        out = [f"monitor {name}: {n} window(s)" for name, n in self.monitors.items()]
        for event in self.recorded:
            verb = "skipped (cooldown)" if event.state == SKIPPED_COOLDOWN else "fired"
            out.append(f"trigger {event.trigger} {verb}: {event.cause} → {event.id}")
        for event in self.finished:
            run = f" (run {event.pipeline_run_id})" if event.pipeline_run_id else ""
            why = f": {event.error}" if event.error else ""
            out.append(f"event {event.id} of {event.trigger} {event.state}{run}{why}")
        for event in self.rollouts_started:
            rollout = event.rollout or {}
            out.append(
                f"rollout of {rollout.get('candidate')} on {rollout.get('deployment')} "
                f"{event.rollout_state} (event {event.id})"
            )
        out += [f"rollout on {c.deployment}: {c.state}" for c in self.rollouts]
        if self.compacted:
            out.append(f"prediction logs: {self.compacted} small segments compacted")
        hooks = self.webhooks
        if not hooks.idle:
            out.append(
                f"webhooks: {hooks.delivered} delivered, {hooks.retrying} to retry, "
                f"{hooks.dead} dead-lettered ({hooks.recorded} new)"
            )
        out += [f"error: {e}" for e in self.errors]
        return out


class Controller:
    """Reconciles triggers, monitors, pipelines and rollouts; see the module docstring."""

    def __init__(
        self,
        client: ControllerClient,
        *,
        owner: str | None = None,
        launcher: PipelineLauncher | None = None,
        rollouts: RolloutDriver | None = None,
        lease_s: float = 60.0,
        max_attempts: int = 3,
        compact_logs_every_s: float | None = 600.0,
        webhooks: WebhookDispatcher | None = None,
    ) -> None:
        if isinstance(lease_s, bool) or not isinstance(lease_s, int | float) or lease_s <= 0:
            raise ValidationError(f"lease_s must be a positive number of seconds, got {lease_s!r}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValidationError(f"max_attempts must be an integer ≥ 1, got {max_attempts!r}")
        self.client = client
        self.stores = client.stores
        self.triggers = client.triggers
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.launcher = launcher if launcher is not None else PipelineRunLauncher()
        self.rollouts = rollouts if rollouts is not None else RolloutServiceDriver(client.rollouts)
        self.queue = EventQueue(self.stores, self.owner, float(lease_s), max_attempts)
        self.webhooks = webhooks if webhooks is not None else WebhookDispatcher(self.stores)
        self._offset = 0.0  # `now` given to reconcile_once minus the wall clock
        if compact_logs_every_s is not None and not (
            isinstance(compact_logs_every_s, int | float)
            and not isinstance(compact_logs_every_s, bool)
            and compact_logs_every_s > 0
        ):
            raise ValidationError(
                "compact_logs_every_s must be a positive number of seconds, or None for "
                f"never, got {compact_logs_every_s!r}"
            )
        self.compact_logs_every_s = compact_logs_every_s
        self._compacted_at: float | None = None

    def _clock(self) -> float:
        return time.time() + self._offset

    # ------------------------------------------------------------------ one pass
    def reconcile_once(self, now: float | None = None) -> ReconcileReport:
        """One pass of the loop at `now` (default: the wall clock)."""
        require(self.stores.actor, "write", "run the controller")
        now = time.time() if now is None else float(now)
        self._offset = now - time.time()
        report = ReconcileReport(at=now)
        try:
            ran = self.client.monitors.run_due(now)
            report.monitors = {name: len(runs) for name, runs in ran.items() if runs}
        except LoopmlError as exc:
            report.errors.append(f"scheduled monitors: {exc}")
        report.recorded = self.triggers.evaluate(now)
        for event in self.queue.runnable(now):
            if event.state in (PENDING, RUNNING):
                self._run_pipeline(event, self._clock(), report)  # earlier ones took time
            else:
                self._start_rollout(event, report)
        self._drive_rollouts(report)
        self._compact_logs(now, report)
        self._dispatch_events(report)
        return report

    def _dispatch_events(self, report: ReconcileReport) -> None:
        """Last, so the events of this pass's own changes go out in the same pass."""
        try:
            report.webhooks = self.webhooks.dispatch(self._clock())
        except Exception as exc:  # delivery state is in the store: the next pass resumes
            log.exception("dispatching webhook events failed")
            report.errors.append(f"webhooks: {exc}")

    def _compact_logs(self, now: float, report: ReconcileReport) -> None:
        every = self.compact_logs_every_s
        if every is None or (self._compacted_at is not None and now - self._compacted_at < every):
            return
        self._compacted_at = now
        try:
            report.compacted = compact(self.stores).segments_in
        except Exception as exc:  # maintenance: the next round tries again
            log.exception("compacting the prediction logs failed")
            report.errors.append(f"log compaction: {exc}")

    def _run_pipeline(self, event: TriggerEvent, now: float, report: ReconcileReport) -> None:
        claimed = self.queue.claim(event, now)
        if claimed is None:
            return
        trigger = self.triggers.get(claimed.trigger)
        params = {
            **render_params(trigger.params, claimed.cause_info),
            "trigger": claimed.cause_info,
        }
        try:
            with LeaseKeeper(self.queue, claimed.id, self._clock) as lease:
                outcome = self._launch(trigger.pipeline, params, claimed.id)
        except BaseException:  # Ctrl-C, SystemExit: hand the event over at once
            self.queue.release(claimed.id)
            raise
        if lease.lost:
            report.errors.append(f"event {claimed.id}: lost its lease while running; not recorded")
            return
        finished = self.queue.finish(claimed, trigger, outcome, self._clock())
        if finished is None:
            report.errors.append(f"event {claimed.id}: taken over by another controller")
            return
        report.finished.append(finished)
        if finished.rollout_state == ROLLOUT_PENDING:
            self._start_rollout(finished, report)

    def _launch(self, target: str, params: dict[str, Any], key: str) -> LaunchOutcome:
        try:
            return self.launcher.launch(target, params, client=self.client, key=key)
        except Exception as exc:  # a launcher that broke its contract: still an outcome
            return failure(exc, target)

    def _start_rollout(self, event: TriggerEvent, report: ReconcileReport) -> None:
        claimed = self.queue.claim_rollout(event, self._clock())
        if claimed is None:
            return
        spec = claimed.rollout or {}
        started: dict[str, Any] | None = None
        error: str | None = None
        try:
            with LeaseKeeper(self.queue, claimed.id, self._clock):
                started = self.rollouts.ensure_started(
                    spec["deployment"],
                    spec["candidate"],
                    spec.get("plan") or {},
                    key=claimed.id,
                )
        except LoopmlError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("starting the rollout of event %s failed", claimed.id)
            error = f"{type(exc).__name__}: {exc}"
        except BaseException:
            self.queue.release(claimed.id)
            raise
        if self.queue.finish_rollout(claimed, started=started, error=error):
            report.rollouts_started.append(self.queue.get(claimed.id))

    def _drive_rollouts(self, report: ReconcileReport) -> None:
        now = self._clock()
        try:
            active = self.rollouts.active(now)
        except Exception as exc:
            report.errors.append(f"listing active rollouts: {exc}")
            return
        for deployment in active:
            try:
                change = self.rollouts.advance(deployment, now)
            except Exception as exc:
                log.exception("advancing the rollout on %s failed", deployment)
                report.errors.append(f"rollout on {deployment}: {exc}")
                continue
            if change.changed:
                with self.stores.engine.begin() as conn:
                    append_event(
                        conn,
                        self.stores.actor,
                        "rollout.drive",
                        f"deployment:{deployment}",
                        change.to_dict(),
                    )
                report.rollouts.append(change)

    # ------------------------------------------------------------------ forever
    def run_forever(
        self,
        interval_s: float = 5.0,
        stop_event: threading.Event | None = None,
        on_report: Callable[[ReconcileReport], None] | None = None,
    ) -> None:
        """Reconcile every `interval_s` seconds until `stop_event` is set; a failed pass is
        logged and reported, and the next one runs on schedule."""
        if (
            isinstance(interval_s, bool)
            or not isinstance(interval_s, int | float)
            or interval_s <= 0
        ):
            raise ValidationError(
                f"interval must be a positive number of seconds, got {interval_s!r}"
            )
        stop = stop_event or threading.Event()
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = self.reconcile_once()
            except Exception as exc:
                log.exception("reconcile pass failed")
                report = ReconcileReport(at=time.time(), errors=[f"reconcile failed: {exc}"])
            if on_report is not None:
                on_report(report)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
