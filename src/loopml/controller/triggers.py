"""Triggers: declare what starts a pipeline, and turn new causes into events.

`evaluate` is the only writer of events. Under a lock on the trigger's row it inserts one
event per new cause and moves the trigger's cursor, so a cause is seen once however many
controllers evaluate at the same moment; the UNIQUE (trigger, cause) constraint backs that
up. Cooldown is decided here too: a cause arriving within `cooldown_s` of the last fire is
recorded as `skipped_cooldown` (not queued), so one drift episode or one burst of data
starts one retraining. A fire whose pipeline failed does not hold back the next cause, and
`retry` queues a failed or skipped event again whatever the cooldown says.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from loopml.controller.causes import Cause, new_causes, starting_cursor
from loopml.controller.data_wait import release_waiting, wait_info
from loopml.controller.event_retry import no_event, retry_event
from loopml.controller.trigger_records import (
    EVENT_STATES,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED_COOLDOWN,
    WAITING_DATA,
    RolloutSpec,
    Trigger,
    TriggerEvent,
    TriggerSource,
    check_cooldown,
    check_params,
    check_pipeline_reference,
)
from loopml.controller.view_sources import latest_version, view_dataset, watched_dataset
from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import append_event, require
from loopml.pipelines.catalog import PipelineCatalog
from loopml.store import Stores, new_id
from loopml.store.principal import ROLES, Principal
from loopml.store.schema import (
    dataset_versions,
    deployments,
    monitors,
    trigger_events,
    triggers,
)
from loopml.validation import check_name


class TriggerService:
    """Create, list, enable, disable and delete triggers; evaluate them into events."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    # ------------------------------------------------------------------ declare
    def create(
        self,
        name: str,
        on: str,
        pipeline: str,
        *,
        params: dict[str, Any] | None = None,
        cooldown: str | float | None = None,
        rollout: RolloutSpec | dict[str, Any] | None = None,
        enabled: bool = True,
        requires_new_data: str | None = None,
    ) -> Trigger:
        """Declare a trigger; it fires only for causes that appear after this call.

        With `requires_new_data=DATASET` (alert and schedule triggers), each event waits as
        `waiting_data` until DATASET has a version created after the cause, then launches.
        """
        actor = self.stores.actor
        require(actor, "write", "create triggers")
        check_name("trigger", name)
        source = TriggerSource.parse(on).waiting_for(requires_new_data)
        path = check_pipeline_reference(pipeline)
        PipelineCatalog(self.stores).admit(path)  # registered, or registered now by an admin
        checked_params = check_params(
            source.kind, params, waits_for_data=source.requires_new_data is not None
        )
        cooldown_s = check_cooldown(cooldown)
        spec = RolloutSpec.parse(rollout)
        if not isinstance(enabled, bool):
            raise ValidationError(f"enabled must be True or False, got {enabled!r}")
        now = time.time()
        try:
            with self.engine.begin() as conn:
                self._check_references(conn, source, spec)
                if source.kind == "feature_view":
                    source = replace(source, dataset=view_dataset(conn, source.feature_view or ""))
                if self._row(conn, name) is not None:
                    raise _exists(name)
                cursor = starting_cursor(conn, source, now)
                conn.execute(
                    triggers.insert().values(
                        name=name,
                        kind=source.kind,
                        source=source.to_dict(),
                        pipeline=path,
                        params=checked_params,
                        cooldown_s=cooldown_s,
                        rollout=None if spec is None else spec.to_dict(),
                        enabled=enabled,
                        cursor=cursor,
                        last_fired_at=None,
                        created_by=actor.name,
                        created_role=actor.role,
                        created_at=now,
                        updated_at=now,
                    )
                )
                created = Trigger.from_row(self._row(conn, name))
                append_event(conn, actor, "trigger.create", created.uri, created.to_dict())
        except IntegrityError as exc:  # created concurrently
            raise _exists(name) from exc
        return created

    def _check_references(
        self, conn: Connection, source: TriggerSource, rollout: RolloutSpec | None
    ) -> None:
        if source.kind == "dataset":
            found = conn.execute(
                select(dataset_versions.c.id)
                .where(dataset_versions.c.name == source.dataset)
                .limit(1)
            ).first()
            if found is None:
                raise NotFoundError(
                    f"dataset {source.dataset!r} has no versions yet: log one first "
                    "(`loopml data add`); the trigger fires for the versions after it"
                )
        if source.kind == "alert":
            row = conn.execute(select(monitors).where(monitors.c.name == source.monitor)).first()
            if row is None:
                raise NotFoundError(
                    f"no monitor named {source.monitor!r}; see `loopml monitor list`"
                )
            rules = [rule.get("name") for rule in row.config.get("rules", [])]
            if source.rule is not None and source.rule not in rules:
                raise NotFoundError(
                    f"monitor {source.monitor!r} has no alert rule {source.rule!r}; its rules: "
                    f"{', '.join(map(str, rules)) or 'none'}"
                )
        if rollout is not None:
            found = conn.execute(
                select(deployments.c.name).where(deployments.c.name == rollout.deployment)
            ).first()
            if found is None:
                raise NotFoundError(
                    f"no deployment named {rollout.deployment!r} to roll out on; see "
                    "`loopml deploy list`"
                )

    def enable(self, name: str) -> Trigger:
        """Start firing again, for causes from now on (none that came while disabled)."""
        return self._set_enabled(name, True)

    def disable(self, name: str) -> Trigger:
        """Stop firing; pending events wait (the controller does not launch them)."""
        return self._set_enabled(name, False)

    def _set_enabled(self, name: str, enabled: bool) -> Trigger:
        actor = self.stores.actor
        require(actor, "write", f"change trigger {name!r}")
        now = time.time()
        with self.engine.begin() as conn:
            row = self._row(conn, name, lock=True)
            if row is None:
                raise _missing(name)
            current = Trigger.from_row(row)
            _require_creator_rank(actor, current, "enable" if enabled else "disable")
            values: dict[str, Any] = {"enabled": enabled, "updated_at": now}
            if enabled and not current.enabled:
                values["cursor"] = starting_cursor(conn, current.source, now)
            conn.execute(update(triggers).where(triggers.c.name == name).values(**values))
            action = "trigger.enable" if enabled else "trigger.disable"
            append_event(conn, actor, action, current.uri, {"was_enabled": current.enabled})
            return Trigger.from_row(self._row(conn, name))

    def delete(self, name: str) -> None:
        """Remove a trigger and its events (the audit trail keeps their history)."""
        actor = self.stores.actor
        require(actor, "write", f"delete trigger {name!r}")
        with self.engine.begin() as conn:
            row = self._row(conn, name, lock=True)
            if row is None:
                raise _missing(name)
            _require_creator_rank(actor, Trigger.from_row(row), "delete")
            running = conn.execute(
                select(trigger_events.c.id).where(
                    trigger_events.c.trigger_name == name, trigger_events.c.state == RUNNING
                )
            ).first()
            if running is not None:
                raise ConflictError(
                    f"trigger {name!r} has event {running.id} running; disable the trigger, "
                    "wait for the event to finish, then delete it"
                )
            gone = conn.execute(
                delete(trigger_events).where(trigger_events.c.trigger_name == name)
            ).rowcount
            conn.execute(delete(triggers).where(triggers.c.name == name))
            append_event(conn, actor, "trigger.delete", f"trigger:{name}", {"events": gone})

    # ------------------------------------------------------------------ reads
    def get(self, name: str) -> Trigger:
        with self.engine.connect() as conn:
            row = self._row(conn, name)
        if row is None:
            raise _missing(name)
        return Trigger.from_row(row)

    def list(self) -> builtins.list[Trigger]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(triggers).order_by(triggers.c.name)).all()
        return [Trigger.from_row(row) for row in rows]

    def events(
        self, name: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[TriggerEvent]:
        """Events newest first, optionally of one trigger and/or in one state."""
        if state is not None and state not in EVENT_STATES:
            raise ValidationError(
                f"event state {state!r} is unknown: use one of {', '.join(EVENT_STATES)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        query = select(trigger_events).order_by(
            trigger_events.c.created_at.desc(), trigger_events.c.id.desc()
        )
        if name is not None:
            self.get(name)
            query = query.where(trigger_events.c.trigger_name == name)
        if state is not None:
            query = query.where(trigger_events.c.state == state)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [TriggerEvent.from_row(row) for row in rows]

    def event(self, event_id: str) -> TriggerEvent:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(trigger_events).where(trigger_events.c.id == event_id)
            ).first()
        if row is None:
            raise no_event(event_id)
        return TriggerEvent.from_row(row)

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, now: float | None = None) -> builtins.list[TriggerEvent]:
        """Record an event for each new cause of each enabled trigger (pending, or
        skipped_cooldown); returns the events recorded by this call."""
        require(self.stores.actor, "write", "evaluate triggers")
        now = time.time() if now is None else now
        recorded: builtins.list[TriggerEvent] = []
        for trigger in self.list():
            if trigger.enabled:
                recorded += self._evaluate_one(trigger.name, now)
        return recorded

    def _evaluate_one(self, name: str, now: float) -> builtins.list[TriggerEvent]:
        recorded: builtins.list[TriggerEvent] = []
        with self.engine.begin() as conn:
            row = self._row(conn, name, lock=True)  # serialises evaluators of this trigger
            if row is None or not row.enabled:
                return recorded
            trigger = Trigger.from_row(row)
            if trigger.kind == "feature_view":
                trigger = self._follow_view(conn, trigger)
                if trigger.source.dataset is None:
                    return recorded
            causes = new_causes(conn, trigger, now)
            if causes:
                recorded += self._record_causes(conn, trigger, causes, now)
            if trigger.source.requires_new_data is not None:
                release_waiting(conn, trigger, self.stores.actor)
        return recorded

    def _follow_view(self, conn: Connection, trigger: Trigger) -> Trigger:
        """The trigger, retargeted when its view now reads another dataset: it then fires
        once for that dataset's newest version (the view's data changed), then for later
        ones. A view that cannot be followed any more gives a trigger without a dataset."""
        dataset = watched_dataset(conn, trigger.source.feature_view or "")
        if dataset is None or dataset == trigger.source.dataset:
            return replace(trigger, source=replace(trigger.source, dataset=dataset))
        cursor = float(max(latest_version(conn, dataset) - 1, 0))
        source = replace(trigger.source, dataset=dataset)
        conn.execute(
            update(triggers)
            .where(triggers.c.name == trigger.name)
            .values(source=source.to_dict(), cursor=cursor)
        )
        append_event(
            conn,
            self.stores.actor,
            "trigger.retarget",
            trigger.uri,
            {"feature_view": source.feature_view, "from": trigger.source.dataset, "to": dataset},
        )
        return replace(trigger, source=source, cursor=cursor)

    def _record_causes(
        self, conn: Connection, trigger: Trigger, causes: builtins.list[Cause], now: float
    ) -> builtins.list[TriggerEvent]:
        """One event per unseen cause, pending or skipped by the cooldown; moves the cursor."""
        name = trigger.name
        recorded: builtins.list[TriggerEvent] = []
        seen = set(
            conn.execute(
                select(trigger_events.c.cause).where(
                    trigger_events.c.trigger_name == name,
                    trigger_events.c.cause.in_([c.key for c in causes]),
                )
            ).scalars()
        )
        fresh = [c for c in causes if c.key not in seen]
        # With a cooldown, the newest of a burst fires: a retraining should see the
        # freshest data. Without one, every cause fires, oldest first.
        ordered = builtins.list(reversed(fresh)) if trigger.cooldown_s > 0 else fresh
        last_fired = None if self._last_fire_failed(conn, name) else trigger.last_fired_at
        for cause in ordered:
            cooling = last_fired is not None and now - last_fired < trigger.cooldown_s
            event = self._insert(conn, trigger, cause, now, cooling)
            if event is None:
                continue
            recorded.append(event)
            if not cooling:
                last_fired = now
        conn.execute(
            update(triggers)
            .where(triggers.c.name == name)
            .values(
                cursor=max(trigger.cursor, *(c.position for c in causes)),
                last_fired_at=last_fired,
            )
        )
        return recorded

    def _insert(
        self, conn: Connection, trigger: Trigger, cause: Cause, now: float, cooling: bool
    ) -> TriggerEvent | None:
        event_id = new_id("tev")
        info = {
            "kind": trigger.kind,
            "trigger": trigger.name,
            "event": event_id,
            "cause": cause.key,
            **cause.info,
            **wait_info(conn, trigger),
        }
        waits = trigger.source.requires_new_data is not None
        state = SKIPPED_COOLDOWN if cooling else WAITING_DATA if waits else PENDING
        values: dict[str, Any] = {
            "id": event_id,
            "trigger_name": trigger.name,
            "cause": cause.key,
            "cause_info": info,
            "state": state,
            "attempts": 0,
            "owner": None,
            "lease_expires_at": None,
            "pipeline_run_id": None,
            "outcome": None,
            "error": (
                f"within the {trigger.cooldown_s:g}s cooldown of the last fire" if cooling else None
            ),
            "rollout_state": None,
            "rollout": None,
            "created_at": now,
            "started_at": None,
            "finished_at": now if cooling else None,
        }
        try:
            with conn.begin_nested():  # a duplicate must not abort the whole transaction
                conn.execute(trigger_events.insert().values(**values))
        except IntegrityError:  # recorded concurrently: the constraint is the deduplication
            return None
        details = {"event": event_id, "cause": cause.key, **cause.info}
        if cooling:
            details["cooldown_s"] = trigger.cooldown_s
            details["last_fired_at"] = trigger.last_fired_at
        action = "trigger.skip" if cooling else "trigger.fire"
        append_event(conn, self.stores.actor, action, trigger.uri, details)
        values["trigger"] = values.pop("trigger_name")
        return TriggerEvent(**values)

    def _last_fire_failed(self, conn: Connection, name: str) -> bool:
        """Whether the trigger's newest fired (not skipped) event failed: then the cooldown
        holds nothing back, since no retraining came of that fire."""
        state = conn.execute(
            select(trigger_events.c.state)
            .where(
                trigger_events.c.trigger_name == name,
                trigger_events.c.state != SKIPPED_COOLDOWN,
            )
            .order_by(trigger_events.c.created_at.desc(), trigger_events.c.id.desc())
            .limit(1)
        ).scalar()
        return bool(state == FAILED)

    # ------------------------------------------------------------------ retry
    def retry(self, event_id: str) -> TriggerEvent:
        """Queue a failed or cooldown-skipped event again, now and whatever the cooldown."""
        require(self.stores.actor, "write", f"retry trigger event {event_id!r}")
        with self.engine.begin() as conn:
            retry_event(conn, self.stores.actor, event_id)
        return self.event(event_id)

    def _row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        query = select(triggers).where(triggers.c.name == name)
        if lock:
            query = query.with_for_update()  # SQLite ignores it: BEGIN IMMEDIATE locks already
        return conn.execute(query).first()


def _require_creator_rank(actor: Principal, trigger: Trigger, what: str) -> None:
    """A trigger is switched or removed only by someone whose role is at least its
    creator's: an editor cannot undo the retraining an admin declared."""
    if actor.rank < ROLES.index(trigger.created_role):
        raise PermissionDeniedError(
            f"{actor.name} ({actor.role}) may not {what} trigger {trigger.name!r}: it was "
            f"created by {trigger.created_by} as {trigger.created_role}, and only the "
            f"{trigger.created_role} role or higher may {what} it; ask an admin"
        )


def _missing(name: str) -> NotFoundError:
    return NotFoundError(f"no trigger named {name!r}; see `loopml trigger list`")


def _exists(name: str) -> ConflictError:
    return ConflictError(
        f"trigger {name!r} already exists; choose another name, or delete it first "
        f"(`loopml trigger delete {name}`)"
    )
