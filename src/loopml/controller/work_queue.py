"""The trigger events as a crash-safe work queue: claim with a lease, renew, finish.

Every transition is a compare-and-set UPDATE whose WHERE clause states the state it
leaves (and, once claimed, the owner), committed together with its audit event. A claim
sets `owner` and `lease_expires_at`; a controller that dies stops renewing, its lease
expires, and the next controller's claim of the same event succeeds (attempts + 1). A
controller that lost its lease cannot finish the event: its CAS matches no row.

    pending ──claim──► running ──finish──► succeeded ─(rollout)─► pending → starting → started
       │                 │  ▲ lease expired: claim again      │                         └► failed
       │                 │  └──────────────┘                  └► (no rollout: None, or skipped)
       │                 └──finish──► failed   (also: abandoned after max_attempts claims)
       └─ (in cooldown) skipped_cooldown
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from loopml.controller.ports import SUCCEEDED, LaunchOutcome
from loopml.controller.trigger_records import (
    FAILED,
    PENDING,
    ROLLOUT_FAILED,
    ROLLOUT_PENDING,
    ROLLOUT_SKIPPED,
    ROLLOUT_STARTED,
    ROLLOUT_STARTING,
    RUNNING,
    Trigger,
    TriggerEvent,
)
from loopml.governance import append_event
from loopml.store import Stores
from loopml.store.schema import trigger_events, triggers


class EventQueue:
    """Claims and completes trigger events on behalf of one controller (`owner`)."""

    def __init__(self, stores: Stores, owner: str, lease_s: float, max_attempts: int) -> None:
        self.stores = stores
        self.engine = stores.engine
        self.owner = owner
        self.lease_s = lease_s
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ reads
    def runnable(self, now: float) -> builtins.list[TriggerEvent]:
        """Events of enabled triggers with work to do, oldest first: pending, running under
        an expired lease, or waiting for their rollout to start."""
        expired = trigger_events.c.lease_expires_at < now
        work = or_(
            trigger_events.c.state == PENDING,
            and_(trigger_events.c.state == RUNNING, expired),
            trigger_events.c.rollout_state == ROLLOUT_PENDING,
            and_(trigger_events.c.rollout_state == ROLLOUT_STARTING, expired),
        )
        query = (
            select(trigger_events)
            .join(triggers, triggers.c.name == trigger_events.c.trigger_name)
            .where(triggers.c.enabled.is_(True), work)
            .order_by(trigger_events.c.created_at, trigger_events.c.id)
        )
        with self.engine.connect() as conn:
            return [TriggerEvent.from_row(row) for row in conn.execute(query)]

    def get(self, event_id: str) -> TriggerEvent:
        with self.engine.connect() as conn:
            row = conn.execute(select(trigger_events).where(trigger_events.c.id == event_id)).one()
        return TriggerEvent.from_row(row)

    # ------------------------------------------------------------------ the pipeline
    def claim(self, event: TriggerEvent, now: float) -> TriggerEvent | None:
        """Take the event (pending, or running under an expired lease) to launch it; None
        when another controller has it, or when it was abandoned after too many claims."""
        claimable = or_(
            trigger_events.c.state == PENDING,
            and_(trigger_events.c.state == RUNNING, trigger_events.c.lease_expires_at < now),
        )
        with self.engine.begin() as conn:
            if event.state == RUNNING and event.attempts >= self.max_attempts:
                error = (
                    f"abandoned after {event.attempts} attempts: the controller running it "
                    "stopped each time (crash, kill or lost lease)"
                )
                done = conn.execute(
                    update(trigger_events)
                    .where(trigger_events.c.id == event.id, claimable)
                    .values(
                        state=FAILED,
                        error=error,
                        owner=None,
                        lease_expires_at=None,
                        finished_at=now,
                    )
                )
                if done.rowcount == 1:
                    self._audit(conn, "pipeline.abandon", event, {"error": error})
                return None
            claimed = conn.execute(
                update(trigger_events)
                .where(trigger_events.c.id == event.id, claimable)
                .values(
                    state=RUNNING,
                    owner=self.owner,
                    lease_expires_at=now + self.lease_s,
                    attempts=trigger_events.c.attempts + 1,
                    started_at=func.coalesce(trigger_events.c.started_at, now),
                )
            )
            if claimed.rowcount != 1:
                return None
            self._audit(
                conn,
                "pipeline.launch",
                event,
                {
                    "attempt": event.attempts + 1,
                    "resumed_from": event.owner,
                    "owner": self.owner,
                },
            )
        return self.get(event.id)

    def renew(self, event_id: str, until: float) -> bool:
        """Extend this controller's lease; False when the event is no longer its own."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(trigger_events)
                .where(trigger_events.c.id == event_id, trigger_events.c.owner == self.owner)
                .where(
                    or_(
                        trigger_events.c.state == RUNNING,
                        trigger_events.c.rollout_state == ROLLOUT_STARTING,
                    )
                )
                .values(lease_expires_at=until)
            )
        return done.rowcount == 1

    def release(self, event_id: str) -> None:
        """Let the event go at once (on Ctrl-C): the next controller resumes it right away."""
        with self.engine.begin() as conn:
            conn.execute(
                update(trigger_events)
                .where(trigger_events.c.id == event_id, trigger_events.c.owner == self.owner)
                .values(lease_expires_at=0.0)
            )

    def finish(
        self, event: TriggerEvent, trigger: Trigger, outcome: LaunchOutcome, now: float
    ) -> TriggerEvent | None:
        """Record how the pipeline ended (and whether a rollout is due); None when this
        controller lost the event to another one meanwhile."""
        rollout_state, rollout = _rollout_plan(trigger, outcome)
        state = SUCCEEDED if outcome.status == SUCCEEDED else FAILED
        with self.engine.begin() as conn:
            done = conn.execute(
                update(trigger_events)
                .where(
                    trigger_events.c.id == event.id,
                    trigger_events.c.owner == self.owner,
                    trigger_events.c.state == RUNNING,
                )
                .values(
                    state=state,
                    outcome=outcome.to_dict(),
                    error=outcome.error,
                    pipeline_run_id=outcome.pipeline_run_id,
                    rollout_state=rollout_state,
                    rollout=rollout,
                    owner=None,
                    lease_expires_at=None,
                    finished_at=now,
                )
            )
            if done.rowcount != 1:
                return None
            details: dict[str, Any] = {
                "status": state,
                "pipeline": trigger.pipeline,
                "pipeline_run_id": outcome.pipeline_run_id,
                "candidate": None if outcome.candidate is None else outcome.candidate.to_dict(),
                "error": outcome.error,
                "rollout": rollout_state,
            }
            self._audit(conn, "pipeline.finish", event, details)
        return self.get(event.id)

    # ------------------------------------------------------------------ the rollout
    def claim_rollout(self, event: TriggerEvent, now: float) -> TriggerEvent | None:
        """Take the event's rollout start (pending, or starting under an expired lease)."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(trigger_events)
                .where(
                    trigger_events.c.id == event.id,
                    or_(
                        trigger_events.c.rollout_state == ROLLOUT_PENDING,
                        and_(
                            trigger_events.c.rollout_state == ROLLOUT_STARTING,
                            trigger_events.c.lease_expires_at < now,
                        ),
                    ),
                )
                .values(
                    rollout_state=ROLLOUT_STARTING,
                    owner=self.owner,
                    lease_expires_at=now + self.lease_s,
                )
            )
        return self.get(event.id) if claimed.rowcount == 1 else None

    def finish_rollout(
        self, event: TriggerEvent, *, started: dict[str, Any] | None, error: str | None
    ) -> bool:
        """Record that the rollout started (or why it could not), once."""
        rollout = dict(event.rollout or {})
        rollout.update({"started": started} if error is None else {"error": error})
        state = ROLLOUT_STARTED if error is None else ROLLOUT_FAILED
        with self.engine.begin() as conn:
            done = conn.execute(
                update(trigger_events)
                .where(
                    trigger_events.c.id == event.id,
                    trigger_events.c.owner == self.owner,
                    trigger_events.c.rollout_state == ROLLOUT_STARTING,
                )
                .values(rollout_state=state, rollout=rollout, owner=None, lease_expires_at=None)
            )
            if done.rowcount != 1:
                return False
            action = "rollout.start" if error is None else "rollout.fail"
            self._audit(conn, action, event, rollout)
        return True

    def _audit(self, conn: Any, action: str, event: TriggerEvent, details: dict[str, Any]) -> None:
        append_event(
            conn,
            self.stores.actor,
            action,
            f"trigger:{event.trigger}#{event.id}",
            {"event": event.id, "cause": event.cause, **details},
        )


def _rollout_plan(
    trigger: Trigger, outcome: LaunchOutcome
) -> tuple[str | None, dict[str, Any] | None]:
    """Whether the event's rollout is due, and what it will start."""
    if trigger.rollout is None or outcome.status != SUCCEEDED:
        return None, None
    spec = trigger.rollout.to_dict()
    candidate = outcome.candidate
    if candidate is None:
        return ROLLOUT_SKIPPED, {**spec, "reason": "the pipeline named no candidate version"}
    if not candidate.passed:
        return ROLLOUT_SKIPPED, {
            **spec,
            "candidate": candidate.version,
            "reason": f"candidate {candidate.version} did not pass the pipeline's gate",
        }
    return ROLLOUT_PENDING, {**spec, "candidate": candidate.version}
