"""Events that wait for new data: a retraining is launched only once there is data to learn.

A trigger declared with `requires_new_data=DATASET` records each of its events as
`waiting_data`, with DATASET's newest version number when the cause was recorded
(`data_after`, 0 when it had none). Each evaluation looks for a newer version (numbers, not
clocks, decide); the newest one found moves the event to `pending`, and the pipeline
receives it under `new_data` (`dataset:NAME@VERSION`), `new_data_name` and
`new_data_version`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from loopml.controller.trigger_records import PENDING, WAITING_DATA, Trigger, TriggerEvent
from loopml.governance import append_event
from loopml.store.principal import Principal
from loopml.store.schema import dataset_versions, trigger_events


def wait_info(conn: Connection, trigger: Trigger) -> dict[str, Any]:
    """What an event of `trigger` records about the data it waits for ({} when it waits for
    none): the dataset, and its newest version number now (only later ones count as new)."""
    dataset = trigger.source.requires_new_data
    if dataset is None:
        return {}
    latest = conn.execute(
        select(func.max(dataset_versions.c.version)).where(dataset_versions.c.name == dataset)
    ).scalar()
    return {"requires_new_data": dataset, "data_after": int(latest or 0)}


def new_version(conn: Connection, dataset: str, after: int) -> Any:
    """The newest version of `dataset` numbered above `after`, or None."""
    return conn.execute(
        select(dataset_versions.c.id, dataset_versions.c.version)
        .where(dataset_versions.c.name == dataset, dataset_versions.c.version > after)
        .order_by(dataset_versions.c.version.desc())
        .limit(1)
    ).first()


def release_waiting(conn: Connection, trigger: Trigger, actor: Principal) -> list[TriggerEvent]:
    """Move the trigger's waiting events whose new data has arrived to `pending`."""
    rows = conn.execute(
        select(trigger_events).where(
            trigger_events.c.trigger_name == trigger.name,
            trigger_events.c.state == WAITING_DATA,
        )
    ).all()
    released = []
    for row in rows:
        event = TriggerEvent.from_row(row)
        dataset = event.cause_info.get("requires_new_data")
        after = event.cause_info.get("data_after")
        if not isinstance(dataset, str) or not isinstance(after, int):
            continue
        found = new_version(conn, dataset, after)
        if found is None:
            continue
        arrived = {
            "new_data": f"dataset:{dataset}@{found.version}",
            "new_data_name": dataset,
            "new_data_version": found.version,
        }
        info = {**event.cause_info, **arrived}
        done = conn.execute(
            update(trigger_events)
            .where(trigger_events.c.id == event.id, trigger_events.c.state == WAITING_DATA)
            .values(state=PENDING, cause_info=info, error=None)
        )
        if done.rowcount != 1:
            continue
        append_event(
            conn,
            actor,
            "trigger.data_arrived",
            trigger.uri,
            {"event": event.id, "cause": event.cause, "dataset_id": found.id, **arrived},
        )
        released.append(TriggerEvent(**{**event.to_dict(), "state": PENDING, "cause_info": info}))
    return released
