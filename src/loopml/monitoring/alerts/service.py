"""Alerts: opened when a rule's condition holds, kept (deduplicated) while it persists,
resolved when it clears.

An alert is one row of the `alerts` table. While it is open its `open_key`
(monitor, rule, subject) is set, and a unique constraint on that key makes "at most one
open alert per condition" hold even when two monitor runs race: the loser of the race hits
the constraint, and then finds and updates the winner's alert instead. Resolving sets the
key to NULL, so the same condition returning later opens a new alert.

Changes commit in one transaction with their audit events; sinks (log line, webhooks) hear
about them only after the commit.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import IntegrityError

from loopml.config.egress import EgressPolicy
from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.governance import append_event, require
from loopml.monitoring.alerts.rules import AlertRule, Condition, evaluate_rules
from loopml.monitoring.alerts.sinks import AlertEvent, AlertSink, deliver, parse_sinks
from loopml.monitoring.results import WindowResult
from loopml.store import Stores
from loopml.store.ids import new_id
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.schema import KEY_LEN, alerts, monitor_results

log = logging.getLogger("loopml.alerts")

OPEN = "open"
RESOLVED = "resolved"
STATES = (OPEN, RESOLVED)
OPEN_KEY_LEN = KEY_LEN * 2 + 2
SEP = "\x1f"  # cannot appear in a typed name, so keys of different triples never collide
_PAGES = Keyset(
    "alerts", [SortKey(alerts.c.opened_at, descending=True), SortKey(alerts.c.id, descending=True)]
)


@dataclass(frozen=True)
class Alert:
    """One stored alert."""

    id: str
    monitor: str
    rule: str
    subject: str
    severity: str
    state: str
    message: str
    value: float | None
    threshold: float | None
    occurrences: int
    first_result: str
    last_result: str
    opened_at: float
    last_seen_at: float
    resolved_at: float | None
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AlertChanges:
    """What one window did to a monitor's alerts."""

    opened: list[Alert] = field(default_factory=list)
    still_open: list[Alert] = field(default_factory=list)  # seen again: occurrences + 1
    resolved: list[Alert] = field(default_factory=list)
    unknown: list[Condition] = field(default_factory=list)  # could not tell: left as they are
    # clear in this window, but not yet for `resolve_after` windows: still open
    clearing: list[Alert] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "opened": [a.to_dict() for a in self.opened],
            "still_open": [a.to_dict() for a in self.still_open],
            "resolved": [a.to_dict() for a in self.resolved],
            "unknown": [
                {"rule": c.rule.name, "subject": c.subject, "message": c.message}
                for c in self.unknown
            ],
            "clearing": [a.to_dict() for a in self.clearing],
        }

    def events(self, monitor: str, result: str) -> list[AlertEvent]:
        """The opened and resolved alerts as sink events (still-open ones are not news)."""
        return [
            *(AlertEvent("opened", a.to_dict(), monitor, result, a.message) for a in self.opened),
            *(
                AlertEvent("resolved", a.to_dict(), monitor, result, f"resolved: {a.message}")
                for a in self.resolved
            ),
        ]


def parse_rule(rule: str | dict[str, Any] | AlertRule) -> AlertRule:
    """A rule from any of its forms: compact string, stored dict, or the rule itself."""
    if isinstance(rule, AlertRule):
        return rule
    if isinstance(rule, str):
        return AlertRule.parse(rule)
    return AlertRule.from_dict(rule)


def open_key(monitor: str, rule: str, subject: str) -> str:
    """The value that is unique while an alert is open; hashed when it would not fit."""
    key = f"{monitor}{SEP}{rule}{SEP}{subject}"
    if len(key) <= OPEN_KEY_LEN:
        return key
    digest = hashlib.sha256(f"{rule}{SEP}{subject}".encode()).hexdigest()
    return f"{monitor}{SEP}sha256:{digest}"


class AlertService:
    """Apply rules to window results; list and read alerts."""

    def __init__(self, stores: Stores, sinks: Sequence[str | AlertSink] = ("log",)) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.egress = EgressPolicy.of(stores.settings)
        self.sinks = parse_sinks(sinks, self.egress)

    def apply(
        self,
        monitor: str,
        result_id: str,
        rules: Sequence[AlertRule],
        window: WindowResult,
        *,
        sinks: Sequence[str | AlertSink] | None = None,
        resolve_after: int = 1,
    ) -> AlertChanges:
        """Open, refresh and resolve the monitor's alerts for one result in one transaction,
        then tell the sinks (`sinks` replaces the service's own for this call)."""
        with self.engine.begin() as conn:
            changes = self.apply_in(
                conn, monitor, result_id, rules, window, resolve_after=resolve_after
            )
        self.notify(monitor, result_id, changes, sinks)
        return changes

    def notify(
        self,
        monitor: str,
        result_id: str,
        changes: AlertChanges,
        sinks: Sequence[str | AlertSink] | None = None,
    ) -> None:
        """Deliver opened and resolved alerts to the sinks (None: the service's); call it
        after the transaction of `apply_in` committed. Never raises."""
        try:
            targets = self.sinks if sinks is None else parse_sinks(sinks, self.egress)
        except ValidationError:
            log.exception("alert sinks %r of monitor %s are invalid", sinks, monitor)
            return
        deliver(targets, changes.events(monitor, result_id))

    def check_sinks(self, sinks: Sequence[str | AlertSink]) -> None:
        """Raise ValidationError unless every sink string is valid (before storing it)."""
        parse_sinks(sinks, self.egress)

    def apply_in(
        self,
        conn: Connection,
        monitor: str,
        result_id: str,
        rules: Sequence[AlertRule],
        window: WindowResult,
        *,
        resolve_after: int = 1,
    ) -> AlertChanges:
        """`apply` inside the caller's transaction (e.g. the one that stores the result);
        the caller calls `notify` once it committed.

        An open alert resolves once its condition was clear in `resolve_after` windows
        since it last fired (windows where it was unknown neither count nor reset), so a
        condition that flickers around its threshold keeps one alert instead of opening
        a new one every other window."""
        require(self.stores.actor, "write", f"record alerts of monitor {monitor!r}")
        conditions = evaluate_rules(list(rules), window)
        current = {a.rule + SEP + a.subject: a for a in self._open(conn, monitor)}
        opened: builtins.list[Alert] = []
        still: builtins.list[Alert] = []
        resolved: builtins.list[Alert] = []
        unknown: builtins.list[Condition] = []
        clearing: builtins.list[Alert] = []
        now = time.time()
        # A fixed order: concurrent runs take the unique keys in the same sequence.
        for condition in sorted(conditions, key=lambda c: (c.rule.name, c.subject)):
            subject = condition.subject[:KEY_LEN]
            existing = current.get(condition.rule.name + SEP + subject)
            if condition.state == "unknown":
                unknown.append(condition)
            elif condition.state == "firing":
                if existing is not None:
                    still.append(self._seen(conn, existing, condition, result_id, now))
                else:
                    alert, is_new = self._open_one(conn, monitor, condition, result_id, now)
                    (opened if is_new else still).append(alert)
            elif existing is not None:
                clean = 1 + self._clean_before(conn, existing, condition, result_id)
                if clean < resolve_after:
                    clearing.append(existing)
                    continue
                done = self._resolve(conn, existing, result_id, now)
                if done is not None:
                    resolved.append(done)
        for alert in opened:
            self._audit(conn, "alert.open", alert, result_id)
        for alert in resolved:
            self._audit(conn, "alert.resolve", alert, result_id)
        return AlertChanges(opened, still, resolved, unknown, clearing)

    def _clean_before(
        self, conn: Connection, alert: Alert, condition: Condition, result_id: str
    ) -> int:
        """Earlier windows, since the alert last fired, in which its condition was clear."""
        last = conn.execute(
            select(monitor_results.c.seq).where(monitor_results.c.id == alert.last_result)
        ).scalar()
        if last is None:
            return 0
        rows = conn.execute(
            select(monitor_results.c.summary).where(
                monitor_results.c.monitor == alert.monitor,
                monitor_results.c.seq > last,
                monitor_results.c.id != result_id,
            )
        ).all()
        clean = 0
        for (summary,) in rows:
            for seen in evaluate_rules([condition.rule], WindowResult.from_dict(summary)):
                clean += seen.subject[:KEY_LEN] == alert.subject and seen.state == "clear"
        return clean

    # ------------------------------------------------------------------ reads
    def list(
        self,
        monitor: str | None = None,
        state: str | None = None,
        *,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Alert]:
        """Alerts, newest first, optionally of one monitor and/or in one state, a page at a
        time. (An alert that resolves between two pages of open alerts leaves the later
        pages: that is what the filter says.)"""
        if state is not None and state not in STATES:
            raise ValidationError(f"alert state {state!r} is unknown: use one of {STATES}")
        query = select(alerts)
        if monitor is not None:
            query = query.where(alerts.c.monitor == monitor)
        if state is not None:
            query = query.where(alerts.c.state == state)
        with self.engine.connect() as conn:
            rows, token = _PAGES.page(
                conn,
                query,
                max_results=max_results,
                page_token=page_token,
                scope={"monitor": monitor, "state": state},
            )
        return Page([_alert(row) for row in rows], token)

    def get(self, alert_id: str) -> Alert:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id!r} does not exist (`list` shows the alerts)")
        return _alert(row)

    # ------------------------------------------------------------------ by hand
    def acknowledge(self, alert_id: str, *, comment: str | None = None) -> Alert:
        """Record that someone has seen an open alert (who and when); it stays open until
        its condition clears or someone resolves it."""
        actor = self.stores.actor
        require(actor, "write", "acknowledge alerts")
        _check_text("comment", comment, required=False)
        now = time.time()
        with self.engine.begin() as conn:
            alert = self._open_by_id(conn, alert_id, "acknowledge")
            conn.execute(
                update(alerts)
                .where(alerts.c.id == alert.id)
                .values(acknowledged_by=actor.name, acknowledged_at=now)
            )
            done = _alert(conn.execute(select(alerts).where(alerts.c.id == alert.id)).one())
            self._audit_by_hand(conn, "alert.acknowledge", done, {"comment": comment})
        return done

    def resolve(self, alert_id: str, *, reason: str) -> Alert:
        """Close an open alert by hand, saying why. If its condition still holds, the
        monitor's next window opens a new alert."""
        actor = self.stores.actor
        require(actor, "write", "resolve alerts")
        _check_text("reason", reason, required=True)
        with self.engine.begin() as conn:
            alert = self._open_by_id(conn, alert_id, "resolve")
            done = self._resolve(conn, alert, alert.last_result, time.time())
            if done is None:
                raise ConflictError(f"alert {alert_id} was resolved meanwhile; nothing to do")
            self._audit_by_hand(conn, "alert.resolve", done, {"reason": reason.strip()})
        return done

    def _open_by_id(self, conn: Connection, alert_id: str, verb: str) -> Alert:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id).with_for_update()).first()
        if row is None:
            raise NotFoundError(f"alert {alert_id!r} does not exist (`list` shows the alerts)")
        found = _alert(row)
        if found.state != OPEN:
            raise ConflictError(
                f"alert {alert_id} is already {found.state}; only an open alert can be "
                f"{verb}d (it is reopened as a new alert if its condition returns)"
            )
        return found

    def _audit_by_hand(
        self, conn: Connection, action: str, alert: Alert, details: dict[str, Any]
    ) -> None:
        append_event(
            conn,
            self.stores.actor,
            action,
            f"monitor:{alert.monitor}",
            {"alert": alert.id, "rule": alert.rule, "subject": alert.subject, **details},
        )

    # ------------------------------------------------------------------ writes
    def _open(self, conn: Connection, monitor: str) -> builtins.list[Alert]:
        query = (
            select(alerts)
            .where(alerts.c.monitor == monitor, alerts.c.state == OPEN)
            .with_for_update()  # SQLite ignores it: BEGIN IMMEDIATE already serialises
        )
        return [_alert(row) for row in conn.execute(query)]

    def _open_one(
        self, conn: Connection, monitor: str, condition: Condition, result_id: str, now: float
    ) -> tuple[Alert, bool]:
        """A new alert, or (when a concurrent run opened it first) that one, refreshed."""
        subject = condition.subject[:KEY_LEN]
        key = open_key(monitor, condition.rule.name, subject)
        alert = Alert(
            id=new_id("alert"),
            monitor=monitor,
            rule=condition.rule.name,
            subject=subject,
            severity=condition.rule.severity,
            state=OPEN,
            message=condition.message,
            value=condition.value,
            threshold=condition.threshold,
            occurrences=1,
            first_result=result_id,
            last_result=result_id,
            opened_at=now,
            last_seen_at=now,
            resolved_at=None,
        )
        try:
            with conn.begin_nested():  # a failed insert must not abort the whole transaction
                conn.execute(alerts.insert().values(**alert.to_dict(), open_key=key))
            return alert, True
        except IntegrityError:
            row = conn.execute(
                select(alerts).where(alerts.c.open_key == key).with_for_update()
            ).first()
            if row is None:  # opened and resolved meanwhile: this window opens it again
                return self._open_one(conn, monitor, condition, result_id, now)
            return self._seen(conn, _alert(row), condition, result_id, now), False

    def _seen(
        self, conn: Connection, alert: Alert, condition: Condition, result_id: str, now: float
    ) -> Alert:
        values = {
            "occurrences": alerts.c.occurrences + 1,
            "last_result": result_id,
            "last_seen_at": now,
            "message": condition.message,
            "value": condition.value,
            "threshold": condition.threshold,
        }
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))
        row = conn.execute(select(alerts).where(alerts.c.id == alert.id)).one()
        return _alert(row)

    def _resolve(self, conn: Connection, alert: Alert, result_id: str, now: float) -> Alert | None:
        done = conn.execute(
            update(alerts)
            .where(alerts.c.id == alert.id, alerts.c.state == OPEN)
            .values(state=RESOLVED, open_key=None, resolved_at=now, last_result=result_id)
        )
        if done.rowcount == 0:  # resolved by a concurrent run
            return None
        return _alert(conn.execute(select(alerts).where(alerts.c.id == alert.id)).one())

    def _audit(self, conn: Connection, action: str, alert: Alert, result_id: str) -> None:
        append_event(
            conn,
            self.stores.actor,
            action,
            f"monitor:{alert.monitor}",
            {
                "alert": alert.id,
                "rule": alert.rule,
                "subject": alert.subject,
                "severity": alert.severity,
                "result": result_id,
                "value": alert.value,
                "threshold": alert.threshold,
            },
        )


def _alert(row: Row[Any]) -> Alert:
    data = dict(row._mapping)
    data.pop("open_key", None)
    return Alert(**data)


def _check_text(what: str, value: str | None, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise ValidationError(
            f"the {what} must be a sentence of text (up to 2,000 characters), got {value!r}"
        )
