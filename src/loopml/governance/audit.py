"""The audit trail: an append-only chain of events, each hash covering the one before.

Every mutation in loopml appends its event inside the same transaction as the change, so
the change and its record commit together or not at all. Appends are serialised through
the single `audit_head` row (locked FOR UPDATE), which also remembers the newest hash so a
deleted tail is detected too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from loopml.store.fastpath import RawStatement
from loopml.store.principal import Principal
from loopml.store.schema import audit_events, audit_head

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    time: float
    actor: str
    action: str
    object: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """`ok`, how many events were checked, and the first bad one with the reason."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def event_hash(
    seq: int, at: float, actor: str, action: str, obj: str, details: Any, prev_hash: str
) -> str:
    body = json.dumps(
        [seq, repr(at), actor, action, obj, details, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


_HEAD_FOR_UPDATE = RawStatement(
    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_INSERT_EVENT = RawStatement(audit_events.insert())
_INSERT_HEAD = RawStatement(audit_head.insert())
_UPDATE_HEAD = RawStatement(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def append_event(
    conn: Connection,
    actor: Principal | str,
    action: str,
    obj: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (prebuilt statements: a hot path)."""
    name = actor if isinstance(actor, str) else actor.name
    text = json.dumps(details or {}, default=str)
    details = json.loads(text)  # exactly what the JSON column keeps
    head = _HEAD_FOR_UPDATE.fetchone(conn)
    seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    seq += 1
    at = time.time()
    digest = event_hash(seq, at, name, action, obj, details, prev)
    event = {
        "seq": seq,
        "time": at,
        "actor": name,
        "action": action,
        "object": obj,
        "details": text,
        "prev_hash": prev,
        "hash": digest,
    }
    _INSERT_EVENT.execute(conn, event)
    if head is None:
        _INSERT_HEAD.execute(conn, {"id": 1, "seq": seq, "hash": digest})
    else:
        _UPDATE_HEAD.execute(conn, {"new_seq": seq, "new_hash": digest})
    return AuditEvent(seq, at, name, action, obj, details, prev, digest)


def _rows(
    conn: Connection, obj: str | None = None, limit: int | None = None
) -> Iterator[AuditEvent]:
    query = select(audit_events).order_by(audit_events.c.seq)
    if obj is not None:
        query = query.where(
            (audit_events.c.object == obj)
            | audit_events.c.object.like(obj + "/%")
            | audit_events.c.object.like(obj + "@%")
        )
    if limit is not None:
        query = query.order_by(None).order_by(audit_events.c.seq.desc()).limit(limit)
    rows = [AuditEvent(**dict(r._mapping)) for r in conn.execute(query)]
    yield from sorted(rows, key=lambda e: e.seq)


def list_events(
    engine: Engine, obj: str | None = None, limit: int | None = None
) -> list[AuditEvent]:
    """Events oldest first, optionally only those about `obj` (and objects under it)."""
    with engine.connect() as conn:
        return list(_rows(conn, obj, limit))


def verify_chain(engine: Engine) -> VerifyResult:
    """Recompute the chain; name the first event that was edited, removed, added or moved."""
    with engine.connect() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
        prev, expected_seq, checked = GENESIS, 1, 0
        for event in _rows(conn):
            if event.seq != expected_seq:
                return VerifyResult(
                    False,
                    checked,
                    event.seq,
                    (
                        f"event {event.seq} follows event {expected_seq - 1}: "
                        f"event {expected_seq} was deleted or the sequence was renumbered"
                    ),
                )
            if event.prev_hash != prev:
                return VerifyResult(
                    False,
                    checked,
                    event.seq,
                    (
                        f"event {event.seq} does not link to the event before it: "
                        "an event was inserted, removed or reordered here"
                    ),
                )
            recomputed = event_hash(
                event.seq,
                event.time,
                event.actor,
                event.action,
                event.object,
                event.details,
                event.prev_hash,
            )
            if recomputed != event.hash:
                return VerifyResult(
                    False,
                    checked,
                    event.seq,
                    (
                        f"event {event.seq} ({event.action} {event.object}) was edited: its "
                        "content no longer matches its hash"
                    ),
                )
            prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
        if head is not None and (int(head.seq) != expected_seq - 1 or head.hash != prev):
            return VerifyResult(
                False,
                checked,
                int(head.seq),
                (
                    f"the chain ends at event {expected_seq - 1} but its head records event "
                    f"{head.seq}: events at the end were deleted"
                ),
            )
    return VerifyResult(True, checked)
