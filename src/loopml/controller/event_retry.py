"""Retrying a trigger event: a failed or cooldown-skipped cause is queued again.

The event keeps its id and cause; its attempts, error and outcome start afresh (the audit
log's `trigger.retry` keeps the earlier ones). A retry is an explicit decision, so the
trigger's cooldown does not apply. An event of a trigger that waits for new data and never
had it goes back to waiting, unless that data has arrived meanwhile.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from loopml.controller.data_wait import release_waiting
from loopml.controller.trigger_records import (
    PENDING,
    RETRYABLE,
    WAITING_DATA,
    Trigger,
    TriggerEvent,
)
from loopml.errors import ConflictError, NotFoundError
from loopml.governance import append_event
from loopml.store.principal import Principal
from loopml.store.schema import trigger_events, triggers


def no_event(event_id: str) -> NotFoundError:
    return NotFoundError(
        f"no trigger event {event_id!r}; see `loopml trigger events` for their ids"
    )


def retry_event(conn: Connection, actor: Principal, event_id: str) -> None:
    """Put event `event_id` back in the queue (pending, or waiting for its new data)."""
    found = conn.execute(select(trigger_events).where(trigger_events.c.id == event_id)).first()
    if found is None:
        raise no_event(event_id)
    event = TriggerEvent.from_row(found)
    row = conn.execute(
        select(triggers).where(triggers.c.name == event.trigger).with_for_update()
    ).first()
    if event.state not in RETRYABLE:
        raise ConflictError(
            f"trigger event {event_id} is {event.state}; only {' or '.join(RETRYABLE)} "
            "events can be retried"
        )
    trigger = Trigger.from_row(row)
    info = event.cause_info
    waits = "requires_new_data" in info and "new_data" not in info
    state = WAITING_DATA if waits else PENDING
    done = conn.execute(
        update(trigger_events)
        .where(trigger_events.c.id == event_id, trigger_events.c.state == event.state)
        .values(
            state=state,
            attempts=0,
            owner=None,
            lease_expires_at=None,
            pipeline_run_id=None,
            outcome=None,
            error=None,
            rollout_state=None,
            rollout=None,
            started_at=None,
            finished_at=None,
        )
    )
    if done.rowcount != 1:
        raise ConflictError(f"trigger event {event_id} changed meanwhile; look again")
    details = {
        "event": event_id,
        "cause": event.cause,
        "was": event.state,
        "error": event.error,
        "attempts": event.attempts,
        "pipeline_run_id": event.pipeline_run_id,
        "now": state,
    }
    append_event(conn, actor, "trigger.retry", trigger.uri, details)
    if waits:
        release_waiting(conn, trigger, actor)  # pending at once if the data is there
