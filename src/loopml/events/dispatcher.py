"""`WebhookDispatcher`: fan audit events out to webhooks, then deliver what is due.

Fan-out reads the audit trail after each webhook's cursor and, in one transaction, records
a delivery per matching event and moves the cursor (a compare-and-set on it, and a unique
(webhook, event) pair, so two dispatchers never record an event twice). Delivery claims a
due delivery for a short lease, POSTs the signed body, and records the attempt: a 2xx ends
it (`delivered`); anything else schedules the next attempt after an exponential backoff
(`backoff_s`, doubling, capped at `max_backoff_s`) until `max_attempts`, when it becomes a
dead letter (`dead`, redeliverable by hand). A receiver that is down therefore gets every
event once it is back, within its attempt budget. Delivery is at least once: a receiver
deduplicates on the event id (`X-Loopml-Delivery` per delivery, `id` in the body).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from loopml.errors import ValidationError
from loopml.events.catalog import Event, event_of, matches
from loopml.events.formats import render
from loopml.events.records import DEAD, DELIVERED, PENDING
from loopml.events.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from loopml.governance.audit import AuditEvent
from loopml.store import Stores, new_id
from loopml.store.schema import audit_events, webhook_deliveries, webhooks
from loopml.version import __version__

FAN_OUT_PAGE = 500  # audit events read per webhook per pass
DELIVERY_BATCH = 100  # deliveries attempted per pass
KEPT_TRIES = 50  # attempts remembered per delivery


@dataclass
class DispatchReport:
    """What one pass did: deliveries recorded, and attempts by outcome."""

    recorded: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not (self.recorded or self.delivered or self.retrying or self.dead)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "dead": self.dead,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Attempt:
    status: int | None
    error: str | None
    ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookDispatcher:
    """One `dispatch` per controller pass; see the module docstring."""

    def __init__(
        self,
        stores: Stores,
        *,
        timeout_s: float = 10.0,
        backoff_s: float = 5.0,
        max_backoff_s: float = 3600.0,
        workers: int = 4,
    ) -> None:
        for name, value in (
            ("timeout_s", timeout_s),
            ("backoff_s", backoff_s),
            ("max_backoff_s", max_backoff_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValidationError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValidationError(f"workers must be a whole number ≥ 1, got {workers!r}")
        self.stores = stores
        self.engine = stores.engine
        self.timeout_s = float(timeout_s)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.workers = workers

    def dispatch(self, now: float | None = None) -> DispatchReport:
        """Record new events' deliveries, then attempt the due ones."""
        at = time.time() if now is None else float(now)
        report = DispatchReport()
        report.recorded = self.fan_out(at)
        self.deliver_due(at, report)
        return report

    # ------------------------------------------------------------------ fan-out
    def fan_out(self, now: float | None = None) -> int:
        """Deliveries recorded (due at `now`) for audit events after each webhook's cursor."""
        at = time.time() if now is None else float(now)
        with self.engine.connect() as conn:
            hooks = conn.execute(select(webhooks)).all()
        return sum(self._fan_out_one(hook, at) for hook in hooks)

    def _fan_out_one(self, hook: Any, now: float) -> int:
        recorded = 0
        cursor = int(hook.cursor)
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(audit_events)
                    .where(audit_events.c.seq > cursor)
                    .order_by(audit_events.c.seq)
                    .limit(FAN_OUT_PAGE)
                ).all()
                if not rows:
                    return recorded
                last = int(rows[-1].seq)
                moved = conn.execute(
                    update(webhooks)
                    .where(webhooks.c.id == hook.id, webhooks.c.cursor == cursor)
                    .values(cursor=last)
                )
                if moved.rowcount != 1:  # another dispatcher fanned out, or it was removed
                    return recorded
                values = []
                for row in rows:
                    event = event_of(AuditEvent(**dict(row._mapping)))
                    if event is None or not matches(list(hook.events), event.type):
                        continue
                    values.append(_delivery(hook.id, event, now))
                if values:
                    try:
                        conn.execute(webhook_deliveries.insert(), values)
                    except IntegrityError:  # recorded by a dispatcher that raced us
                        return recorded
                recorded += len(values)
            cursor = last
            if len(rows) < FAN_OUT_PAGE:
                return recorded

    # ------------------------------------------------------------------ delivery
    def deliver_due(self, now: float, report: DispatchReport | None = None) -> DispatchReport:
        """Attempt the due deliveries: webhooks side by side, each one's deliveries in event
        order, until one fails — the rest of that webhook's wait for a later pass, so a
        receiver that hangs costs a pass one timeout, not one per event."""
        report = report if report is not None else DispatchReport()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(
                    webhook_deliveries,
                    webhooks.c.url,
                    webhooks.c.secret,
                    webhooks.c.format,
                    webhooks.c.max_attempts,
                )
                .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                .where(
                    webhook_deliveries.c.state == PENDING,
                    webhook_deliveries.c.next_attempt_at <= now,
                    webhook_deliveries.c.claimed_until < time.time(),
                )
                .order_by(webhook_deliveries.c.event_seq)
                .limit(DELIVERY_BATCH)
            ).all()
        claimed = [row for row in due if self._claim(row)]
        if not claimed:
            return report
        queues: dict[str, list[Any]] = {}  # per webhook, in event order
        for row in claimed:
            queues.setdefault(row.webhook_id, []).append(row)
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as http:

            def send(rows: list[Any]) -> list[tuple[Any, _Attempt | None]]:
                sent: list[tuple[Any, _Attempt | None]] = []
                failed = False
                for row in rows:
                    attempt = None if failed else self._post(http, row)
                    sent.append((row, attempt))  # None: the receiver failed this pass
                    failed = failed or attempt is None or not attempt.ok
                return sent

            with ThreadPoolExecutor(max_workers=min(self.workers, len(queues))) as pool:
                done = [pair for pairs in pool.map(send, queues.values()) for pair in pairs]
        for row, attempt in done:
            if attempt is None:
                self._release(row)
                continue
            outcome = self._record(row, attempt, now)
            if outcome == DELIVERED:
                report.delivered += 1
            elif outcome == DEAD:
                report.dead += 1
            elif outcome == PENDING:
                report.retrying += 1
        return report

    def _claim(self, row: Any) -> bool:
        lease = time.time() + self.timeout_s + 30.0
        with self.engine.begin() as conn:
            done = conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == row.id,
                    webhook_deliveries.c.state == PENDING,
                    webhook_deliveries.c.attempts == row.attempts,
                    webhook_deliveries.c.claimed_until == row.claimed_until,
                )
                .values(claimed_until=lease)
            )
        return done.rowcount == 1

    def _release(self, row: Any) -> None:
        """Give a claimed delivery back untried (its receiver just failed another one)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == row.id,
                    webhook_deliveries.c.attempts == row.attempts,
                    webhook_deliveries.c.state == PENDING,
                )
                .values(claimed_until=0.0)
            )

    def _post(self, http: httpx.Client, row: Any) -> _Attempt:
        event = Event.from_dict(dict(row.payload))
        body = json.dumps(render(event, row.format), separators=(",", ":"), default=str).encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"loopml-webhooks/{__version__}",
            EVENT_HEADER: event.type,
            DELIVERY_HEADER: row.id,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: signature(row.secret, stamp, body),
        }
        started = time.perf_counter()
        try:
            response = http.post(row.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return _Attempt(
                None, f"timed out after {self.timeout_s:g} s ({type(exc).__name__})", _ms(started)
            )
        except httpx.HTTPError as exc:
            return _Attempt(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        error = (
            None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
        )
        return _Attempt(response.status_code, error, _ms(started))

    def _record(self, row: Any, attempt: _Attempt, now: float) -> str | None:
        attempts = int(row.attempts) + 1
        tries = [
            *list(row.tries),
            {"at": time.time(), "status": attempt.status, "error": attempt.error, "ms": attempt.ms},
        ]
        values: dict[str, Any] = {
            "attempts": attempts,
            "tries": tries[-KEPT_TRIES:],
            "claimed_until": 0.0,
        }
        if attempt.ok:
            values.update(state=DELIVERED, finished_at=time.time())
        elif attempts >= int(row.max_attempts):
            values.update(state=DEAD, finished_at=time.time())
        else:
            values.update(next_attempt_at=now + self.backoff(attempts))
        with self.engine.begin() as conn:
            done = conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == row.id,
                    webhook_deliveries.c.attempts == row.attempts,
                    webhook_deliveries.c.state == PENDING,
                )
                .values(**values)
            )
        return str(values.get("state", PENDING)) if done.rowcount == 1 else None

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: backoff_s, doubling, at most max_backoff_s."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempts - 1)))


def _delivery(webhook_id: str, event: Event, now: float) -> dict[str, Any]:
    return {
        "id": new_id("dl"),
        "webhook_id": webhook_id,
        "event_seq": event.seq,
        "event_type": event.type,
        "payload": event.to_dict(),
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": 0.0,
        "tries": [],
        "created_at": now,
        "finished_at": None,
    }


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
