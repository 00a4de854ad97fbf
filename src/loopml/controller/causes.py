"""Finding a trigger's new causes: dataset versions, opened alerts, schedule slots, new
versions of the dataset a feature view reads.

Each cause has a `key` (unique per trigger: the dataset version's id, the alert's id, the
slot as UTC text) and a `position` on the trigger's cursor (the version number, the alert's
opening time, the slot time). Reads are narrow selects on the store: this runs on every
reconcile, for every trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from loopml.controller.schedules import latest_cron_slot, latest_interval_slot, slot_label
from loopml.controller.trigger_records import Trigger, TriggerSource
from loopml.controller.view_sources import latest_version
from loopml.store.schema import alerts, dataset_versions


@dataclass(frozen=True)
class Cause:
    """A reason to fire: its key, its place on the cursor, and what the pipeline is told."""

    key: str
    position: float
    info: dict[str, Any]


def new_causes(conn: Connection, trigger: Trigger, now: float) -> list[Cause]:
    """The trigger's causes past its cursor, oldest first."""
    source = trigger.source
    if source.kind in ("dataset", "feature_view"):
        return _dataset_causes(conn, source, trigger.cursor)
    if source.kind == "alert":
        return _alert_causes(conn, source, trigger.cursor)
    return _schedule_causes(source, trigger.cursor, now)


def starting_cursor(conn: Connection, source: TriggerSource, now: float) -> float:
    """Where a trigger starts watching: causes that exist already do not fire."""
    if source.kind in ("dataset", "feature_view"):
        return float(latest_version(conn, source.dataset or ""))
    return now


def _dataset_causes(conn: Connection, source: TriggerSource, cursor: float) -> list[Cause]:
    rows = conn.execute(
        select(dataset_versions.c.id, dataset_versions.c.version)
        .where(dataset_versions.c.name == source.dataset, dataset_versions.c.version > cursor)
        .order_by(dataset_versions.c.version)
    ).all()
    return [
        Cause(
            key=row.id,
            position=float(row.version),
            info={
                **({"feature_view": source.feature_view} if source.feature_view else {}),
                "dataset": f"dataset:{source.dataset}@{row.version}",
                "dataset_name": source.dataset,
                "dataset_id": row.id,
                "version": row.version,
            },
        )
        for row in rows
    ]


def _alert_causes(conn: Connection, source: TriggerSource, cursor: float) -> list[Cause]:
    # `>=`: alerts opened in one transaction share their time; the event keys deduplicate.
    query = select(alerts).where(alerts.c.monitor == source.monitor, alerts.c.opened_at >= cursor)
    if source.rule is not None:
        query = query.where(alerts.c.rule == source.rule)
    rows = conn.execute(query.order_by(alerts.c.opened_at, alerts.c.id)).all()
    return [
        Cause(
            key=row.id,
            position=row.opened_at,
            info={
                "alert": row.id,
                "monitor": row.monitor,
                "rule": row.rule,
                "subject": row.subject,
                "severity": row.severity,
                "opened_at": row.opened_at,
            },
        )
        for row in rows
    ]


def _schedule_causes(source: TriggerSource, cursor: float, now: float) -> list[Cause]:
    if source.cron is not None:
        slot = latest_cron_slot(source.cron, now)
    else:
        slot = latest_interval_slot(source.every_s or 1.0, now)
    if slot <= cursor:
        return []
    label = slot_label(slot)
    return [Cause(key=label, position=slot, info={"slot": label, "slot_time": slot})]
