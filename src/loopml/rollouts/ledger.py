"""Where rollouts are kept: their rows, their transition history, and the reads of both.

Every write is one transaction guarded by a compare-and-set on the row's `revision`, holding
the history row and the audit event of the transition (see `rollouts.py` for why).
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Connection, func, select, update

from loopml.errors import NotFoundError, ValidationError
from loopml.governance import append_event
from loopml.rollouts.analysis import StepAnalysis
from loopml.rollouts.records import (
    ACTIVE,
    STATES,
    Rollout,
    Target,
    rollout_from_row,
)
from loopml.store import Stores
from loopml.store.schema import rollout_events, rollouts


class RolloutLedger:
    """The `rollouts` and `rollout_events` tables."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    # ------------------------------------------------------------------ reads
    def latest(self, deployment: str) -> Rollout | None:
        """The deployment's newest rollout (active or not), None when it never had one."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(rollouts)
                .where(rollouts.c.deployment == deployment)
                .order_by(rollouts.c.created_at.desc(), rollouts.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else rollout_from_row(row)

    def list(
        self, state: str | None = None, *, deployment: str | None = None
    ) -> builtins.list[Rollout]:
        """Rollouts oldest first; `state` keeps one state (or "active": running or awaiting
        approval)."""
        query = select(rollouts).order_by(rollouts.c.created_at, rollouts.c.id)
        if state == "active":
            query = query.where(rollouts.c.state.in_(ACTIVE))
        elif state is not None:
            if state not in STATES:
                raise ValidationError(
                    f"state must be one of active, {', '.join(STATES)}; got {state!r}"
                )
            query = query.where(rollouts.c.state == state)
        if deployment is not None:
            query = query.where(rollouts.c.deployment == deployment)
        with self.engine.connect() as conn:
            return [rollout_from_row(r) for r in conn.execute(query).all()]

    def due(self) -> builtins.list[Rollout]:
        """What a controller should `advance`: active rollouts, and finished ones whose last
        routing change has not reached the deployment yet."""
        query = (
            select(rollouts)
            .where(rollouts.c.state.in_(ACTIVE) | rollouts.c.applied.is_(False))
            .order_by(rollouts.c.created_at, rollouts.c.id)
        )
        with self.engine.connect() as conn:
            return [rollout_from_row(r) for r in conn.execute(query).all()]

    def history(self, rollout_id: str) -> builtins.list[dict[str, Any]]:
        """Every transition oldest first: action, state, step, weight, analysis, reasons."""
        self.by_id(rollout_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rollout_events)
                .where(rollout_events.c.rollout_id == rollout_id)
                .order_by(rollout_events.c.seq)
            ).all()
        return [
            {
                "seq": r.seq,
                "action": r.action,
                "state": r.state,
                "step": r.step,
                "weight": r.weight,
                "analysis": r.analysis,
                "reasons": list(r.reasons or []),
                "actor": r.actor,
                "at": r.at,
            }
            for r in rows
        ]

    def by_id(self, rollout_id: str) -> Rollout:
        with self.engine.connect() as conn:
            row = conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id!r}; `loopml rollout status` lists them")
        return rollout_from_row(row)

    def active_id(self, conn: Connection, deployment: str) -> str | None:
        """The id of the deployment's active rollout, if any (in the caller's transaction)."""
        return conn.execute(
            select(rollouts.c.id).where(rollouts.c.active_key == deployment)
        ).scalar()

    # ------------------------------------------------------------------ writes
    def record(
        self,
        rollout: Rollout,
        action: str,
        now: float,
        *,
        state: str,
        step: int,
        target: Target,
        reasons: builtins.list[str],
        analysis: StepAnalysis | None = None,
        approval_id: str | None = None,
        applied: bool = False,
    ) -> Rollout | None:
        """Record the next state if the row is still at `rollout.revision` (None if not)."""
        finished = state not in ACTIVE
        values: dict[str, Any] = {
            "state": state,
            "step": step,
            "target": target.to_dict(),
            "applied": applied,
            "approval_id": approval_id,
            "reasons": reasons,
            "revision": rollout.revision + 1,
            "updated_at": now,
        }
        if step != rollout.step:
            values["step_started_at"] = None  # set when the new routing is live
        if finished:
            values.update(active_key=None, finished_at=now)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout.id, rollouts.c.revision == rollout.revision)
                .values(**values)
            )
            if done.rowcount != 1:
                return None
            moved = rollout_from_row(
                conn.execute(select(rollouts).where(rollouts.c.id == rollout.id)).one()
            )
            self.event(conn, moved, action, analysis, now)
        return moved

    def mark_applied(self, rollout: Rollout, now: float) -> Rollout:
        """The recorded routing is live: a step's hold starts now."""
        values: dict[str, Any] = {
            "applied": True,
            "revision": rollout.revision + 1,
            "updated_at": now,
        }
        if rollout.active and rollout.step_started_at is None:
            values["step_started_at"] = now
        with self.engine.begin() as conn:
            conn.execute(
                update(rollouts)
                .where(rollouts.c.id == rollout.id, rollouts.c.revision == rollout.revision)
                .values(**values)
            )
        return self.by_id(rollout.id)

    def event(
        self,
        conn: Connection,
        rollout: Rollout,
        action: str,
        analysis: StepAnalysis | None,
        now: float,
    ) -> None:
        """The history row and the audit event of a transition, in its transaction."""
        seq = conn.execute(
            select(func.coalesce(func.max(rollout_events.c.seq), 0)).where(
                rollout_events.c.rollout_id == rollout.id
            )
        ).scalar_one()
        analysed = None if analysis is None else analysis.to_dict()
        actor = self.stores.actor
        conn.execute(
            rollout_events.insert().values(
                rollout_id=rollout.id,
                seq=int(seq) + 1,
                action=action,
                state=rollout.state,
                step=rollout.step,
                weight=rollout.weight,
                analysis=analysed,
                reasons=rollout.reasons,
                actor=actor.name,
                at=now,
            )
        )
        append_event(
            conn,
            actor,
            f"rollout.{action}",
            rollout.uri,
            {
                "deployment": rollout.deployment,
                "candidate": rollout.candidate,
                "stable": rollout.stable,
                "state": rollout.state,
                "step": rollout.step,
                "weight": rollout.weight,
                "routes": [r.to_dict() for r in rollout.target.routes],
                "approval_id": rollout.approval_id,
                "reasons": rollout.reasons,
                "analysis": analysed,
            },
        )
