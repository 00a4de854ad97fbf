"""The audit trail: an append-only chain of events, each MAC covering the one before.

Every mutation in loopml appends its event inside the same transaction as the change, so
the change and its record commit together or not at all. Each event carries an
HMAC-SHA256, under a key kept outside the metadata store (store/seal.py), of its content
and of the previous event's MAC: rewriting the rows consistently needs the key. Appends
are serialised through the single `audit_head` row (locked FOR UPDATE); after each commit
the head is also checkpointed outside the store, so removing events from the end, or all
of them, is detected too.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, select, update

from loopml.errors import AuditChainError
from loopml.store.fastpath import RawStatement
from loopml.store.paging import Keyset, Page, SortKey
from loopml.store.principal import Principal
from loopml.store.schema import audit_events, audit_head
from loopml.store.seal import AuditSeal, Checkpoint, seal_of, stage_checkpoint

GENESIS = "0" * 64
# Built once: `json.dumps` with options builds an encoder per call (appends are a hot path).
_MAC_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_DETAILS_ENCODER = json.JSONEncoder(default=str)
PAGE = 5000  # events read per query
_OLDEST = Keyset("audit events", [SortKey(audit_events.c.seq)])
_NEWEST = Keyset("audit events, newest first", [SortKey(audit_events.c.seq, descending=True)])


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


def event_mac(
    key: bytes,
    seq: int,
    at: float,
    actor: str,
    action: str,
    obj: str,
    details: Any,
    prev_hash: str,
) -> str:
    """HMAC-SHA256 of an event's content and its predecessor's MAC."""
    body = _MAC_ENCODER.encode([seq, repr(at), actor, action, obj, details, prev_hash])
    return hmac.digest(key, body.encode(), "sha256").hex()  # one-shot: no HMAC object


def mac_of(key: bytes, event: AuditEvent, prev_hash: str | None = None) -> str:
    """The MAC `event` should carry under `key` (after `prev_hash`, default its own)."""
    return event_mac(
        key,
        event.seq,
        event.time,
        event.actor,
        event.action,
        event.object,
        event.details,
        event.prev_hash if prev_hash is None else prev_hash,
    )


HEAD_FOR_UPDATE = RawStatement(
    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_ANY_EVENT = RawStatement(select(audit_events.c.seq).limit(1))
_INSERT_EVENT = RawStatement(audit_events.insert())
_INSERT_HEAD = RawStatement(audit_head.insert())
# PostgreSQL: the event and the head's move in one statement (a data-modifying CTE).
_APPEND_MOVING_HEAD = RawStatement(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("e_seq"), hash=bindparam("e_hash"))
    .add_cte(
        audit_events.insert()
        .values({c.name: bindparam(f"e_{c.name}") for c in audit_events.columns})
        .cte("appended")
    )
)
UPDATE_HEAD = RawStatement(
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
    """Append one event in the caller's transaction (prebuilt statements: a hot path).

    Raises AuditChainError, and so refuses the change, when the trail was visibly cut:
    its head row is gone while events remain, or it is behind a head this process
    checkpointed.
    """
    seal = seal_of(conn.engine)
    head = HEAD_FOR_UPDATE.fetchone(conn)
    if head is None:
        _require_empty_trail(conn, seal)
        seq, prev = 0, GENESIS
    else:
        seq, prev = int(head[0]), str(head[1])
    if seq < seal.highest_checkpoint:
        raise AuditChainError(
            f"the audit trail's head is at event {seq} but event {seal.highest_checkpoint} "
            "was committed: events were deleted; run `loopml audit verify`"
        )
    key = seal.key_after(seq, prev, conn)
    event = append_with_key(conn, key, seq, prev, head is None, actor, action, obj, details)
    stage_checkpoint(conn, event.seq, event.hash, seal.id_of(key))
    return event


def append_with_key(
    conn: Connection,
    key: bytes,
    seq: int,
    prev: str,
    headless: bool,
    actor: Principal | str,
    action: str,
    obj: str,
    details: dict[str, Any] | None,
) -> AuditEvent:
    name = actor if isinstance(actor, str) else actor.name
    text = _DETAILS_ENCODER.encode(details or {})
    content = _as_stored(details or {}, text)
    seq += 1
    at = time.time()
    mac = event_mac(key, seq, at, name, action, obj, content, prev)
    row = {
        "seq": seq,
        "time": at,
        "actor": name,
        "action": action,
        "object": obj,
        "details": text,
        "prev_hash": prev,
        "hash": mac,
    }
    if headless:
        _INSERT_EVENT.execute(conn, row)
        _INSERT_HEAD.execute(conn, {"id": 1, "seq": seq, "hash": mac})
    elif conn.dialect.name == "postgresql":  # one round trip for both
        _APPEND_MOVING_HEAD.execute(conn, {f"e_{k}": v for k, v in row.items()})
    else:
        _INSERT_EVENT.execute(conn, row)
        UPDATE_HEAD.execute(conn, {"new_seq": seq, "new_hash": mac})
    return AuditEvent(seq, at, name, action, obj, content, prev, mac)


_PLAIN = frozenset({str, int, bool, type(None)})


def _as_stored(details: dict[str, Any], text: str) -> dict[str, Any]:
    """What the JSON column gives back for `details` (encoded as `text`): a copy when every
    key is text and every value a string, integer, boolean or null (the details of most
    events, which JSON keeps as they are), else the decoded text."""
    for key, value in details.items():
        if type(key) is not str or type(value) not in _PLAIN:
            return json.loads(text)  # type: ignore[no-any-return]
    return dict(details)


def _require_empty_trail(conn: Connection, seal: AuditSeal) -> None:
    if _ANY_EVENT.fetchone(conn) is not None:
        raise AuditChainError(
            "the audit trail has events but its head row is missing: it was deleted; run "
            "`loopml audit verify`"
        )
    if seal.checkpoints():
        raise AuditChainError(
            "the audit trail is empty but events were checkpointed outside the store: "
            "the trail was wiped; run `loopml audit verify`"
        )


def _about(obj: str) -> ColumnElement[bool]:
    """Events about `obj` and the objects under it (`model:bikes/3`, `model:bikes@champion`)."""
    return (
        (audit_events.c.object == obj)
        | audit_events.c.object.like(obj + "/%")
        | audit_events.c.object.like(obj + "@%")
    )


def iter_events(
    conn: Connection, obj: str | None = None, limit: int | None = None
) -> Iterator[AuditEvent]:
    """Events oldest first (the newest `limit` of them when given), read `PAGE` at a time."""
    query = select(audit_events).order_by(audit_events.c.seq)
    if obj is not None:
        query = query.where(_about(obj))
    if limit is not None:
        query = query.order_by(None).order_by(audit_events.c.seq.desc()).limit(limit)
        rows = [AuditEvent(**dict(r._mapping)) for r in conn.execute(query)]
        yield from sorted(rows, key=lambda e: e.seq)
        return
    after = 0  # pages by sequence number: memory stays flat, no cursor is left open
    while True:
        page = conn.execute(query.where(audit_events.c.seq > after).limit(PAGE)).all()
        yield from (AuditEvent(**dict(r._mapping)) for r in page)
        if len(page) < PAGE:
            return
        after = int(page[-1].seq)


def list_events(
    engine: Engine, obj: str | None = None, limit: int | None = None
) -> list[AuditEvent]:
    """Events oldest first, optionally only those about `obj` (and objects under it); the
    newest `limit` of them when given. To walk a long trail, use `page_events`."""
    with engine.connect() as conn:
        return list(iter_events(conn, obj, limit))


def event_at(engine: Engine, seq: int) -> AuditEvent | None:
    """Event number `seq` as stored now, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).first()
    return None if row is None else AuditEvent(**dict(row._mapping))


def page_events(
    engine: Engine,
    obj: str | None = None,
    *,
    newest_first: bool = True,
    max_results: int = 100,
    page_token: str | None = None,
) -> Page[AuditEvent]:
    """One page of events, newest first (or oldest first), optionally about `obj`."""
    query = select(audit_events)
    if obj is not None:
        query = query.where(_about(obj))
    keys = _NEWEST if newest_first else _OLDEST
    with engine.connect() as conn:
        rows, token = keys.page(
            conn, query, max_results=max_results, page_token=page_token, scope={"object": obj}
        )
    return Page([AuditEvent(**dict(r._mapping)) for r in rows], token)


def verify_chain(engine: Engine) -> VerifyResult:
    """Recompute every MAC; name the first event that was edited, removed, added or
    moved, and detect a trail cut at its end, wiped, or re-keyed."""
    seal = seal_of(engine)
    with engine.connect() as conn:
        key = seal.key(conn)
        return verify_in(conn, key, seal.key_id, seal.checkpoints())


def verify_in(
    conn: Connection, key: bytes, key_id: str, checkpoints: list[Checkpoint]
) -> VerifyResult:
    """`verify_chain` on an open connection, with an explicit key and checkpoints."""
    foreign = [c for c in checkpoints if c.key_id != key_id]
    if foreign:
        return VerifyResult(
            False,
            0,
            foreign[-1].seq,
            (
                f"the trail was checkpointed under audit key {foreign[-1].key_id}, but the key "
                f"in use is {key_id}: the key was replaced (a rotation records its own "
                "checkpoints); restore the key"
            ),
        )
    anchored = {c.seq: c.mac for c in checkpoints}
    newest = max(anchored, default=0)
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
    prev, expected_seq, checked = GENESIS, 1, 0
    for event in iter_events(conn):
        problem = _check_event(key, event, expected_seq, prev, anchored.get(event.seq))
        if problem is not None:
            return VerifyResult(False, checked, event.seq, problem)
        prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    last = expected_seq - 1
    if head is None and (checked or newest):
        return VerifyResult(
            False,
            checked,
            last or newest,
            "the head row of the audit trail was deleted (a trail with events always has one)"
            + (
                f"; so were all events, though event {newest} was checkpointed outside the "
                "store: the trail was wiped"
                if not checked
                else ""
            ),
        )
    if head is not None and (int(head.seq) != last or head.hash != prev):
        return VerifyResult(
            False,
            checked,
            int(head.seq),
            (
                f"the chain ends at event {last} but its head records event {head.seq}: "
                "events at the end were deleted, or the head was rewritten"
            ),
        )
    if newest > last:
        return VerifyResult(
            False,
            checked,
            newest,
            (
                f"event {newest} was checkpointed outside the store but the trail ends at "
                f"event {last}: events were deleted from its end"
                + (" (the whole trail was wiped)" if last == 0 else "")
            ),
        )
    return VerifyResult(True, checked)


def _check_event(
    key: bytes, event: AuditEvent, expected_seq: int, prev: str, anchored: str | None
) -> str | None:
    if event.seq != expected_seq:
        return (
            f"event {event.seq} follows event {expected_seq - 1}: event {expected_seq} was "
            "deleted or the sequence was renumbered"
        )
    if event.prev_hash != prev:
        return (
            f"event {event.seq} does not link to the event before it: an event was "
            "inserted, removed or reordered here"
        )
    if not hmac.compare_digest(mac_of(key, event), event.hash):
        return (
            f"event {event.seq} ({event.action} {event.object}) was edited: its MAC does "
            "not match its content under the audit key (a re-hash without the key, or "
            "another key)"
        )
    if anchored is not None and anchored != event.hash:
        return f"event {event.seq} differs from its checkpoint outside the store: rewritten"
    return None
