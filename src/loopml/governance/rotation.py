"""Audit key rotation: re-MAC the whole trail under a new key, in one transaction.

The trail is verified under the old key first (a broken trail is never laundered by a
re-key), every MAC is recomputed under the new key, and an `audit.rotate_key` event is
appended under it, all while the head row is locked, so no append can interleave. The
new key file replaces the old one just before the commit (a failed commit puts the old
one back); the old key is kept beside it as `<key file>.<old key id>`, and the old
checkpoint file as `<checkpoint file>.<old key id>`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, update

from loopml.errors import AuditChainError, ValidationError
from loopml.governance.audit import (
    GENESIS,
    HEAD_FOR_UPDATE,
    UPDATE_HEAD,
    append_with_key,
    iter_events,
    mac_of,
    verify_in,
)
from loopml.governance.identity import require
from loopml.store import Stores
from loopml.store.fastpath import RawStatement
from loopml.store.schema import audit_events
from loopml.store.seal import KEY_BYTES, key_id_of, write_key_file

_REMAC = RawStatement(
    update(audit_events)
    .where(audit_events.c.seq == bindparam("at_seq"))
    .values(prev_hash=bindparam("new_prev"), hash=bindparam("new_mac"))
)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the key ids and how many events were re-MACed."""

    old_key_id: str
    new_key_id: str
    events: int
    seq: int  # the sequence number of the `audit.rotate_key` event


def rotate_key(stores: Stores, new_key: bytes | None = None) -> Rotation:
    """Re-MAC the trail under `new_key` (default: a fresh random key), admins only.

    With a key file, the file is replaced. With the `audit_key` secret, `new_key` must be
    given, and every process must be given the new secret afterwards.
    """
    actor = stores.actor
    require(actor, "admin", "rotate the audit key")
    seal = stores.seal
    if new_key is None:
        if seal.from_secret:
            raise ValidationError(
                "the audit key comes from the audit_key setting: give the new key "
                "(`--new-key-env NAME`), then set audit_key to it for every process"
            )
        new_key = secrets.token_bytes(KEY_BYTES)
    if len(new_key) < KEY_BYTES:
        raise ValidationError(f"the new audit key must have at least {KEY_BYTES} bytes")
    old_key = seal.key()
    old_id, new_id = key_id_of(old_key), key_id_of(new_key)
    if old_id == new_id:
        raise ValidationError("the new audit key is the key in use; give a different one")
    replaced = False
    try:
        with stores.engine.begin() as conn:
            head = HEAD_FOR_UPDATE.fetchone(conn)  # holds off every append until commit
            checked = verify_in(conn, old_key, old_id, seal.checkpoints())
            if not checked.ok or head is None:
                raise AuditChainError(
                    f"refusing to re-key a broken audit trail (event {checked.first_bad_seq}: "
                    f"{checked.reason}); investigate with `loopml audit verify`"
                )
            prev, changes = GENESIS, []
            for event in iter_events(conn):
                mac = mac_of(new_key, event, prev)
                changes.append({"at_seq": event.seq, "new_prev": prev, "new_mac": mac})
                prev = mac
            _REMAC.executemany(conn, changes)
            UPDATE_HEAD.execute(conn, {"new_seq": len(changes), "new_hash": prev})
            event = append_with_key(
                conn,
                new_key,
                len(changes),
                prev,
                False,
                actor,
                "audit.rotate_key",
                "audit:key",
                {"old_key": old_id, "new_key": new_id, "events": len(changes)},
            )
            if not seal.from_secret:
                retired = seal.key_file.with_name(f"{seal.key_file.name}.{old_id}")
                write_key_file(retired, old_key, replace=True)
                write_key_file(seal.key_file, new_key, replace=True)
                replaced = True
    except BaseException:
        if replaced:  # the commit failed: the trail is still under the old key
            write_key_file(seal.key_file, old_key, replace=True)
        raise
    seal.replace_key(new_key)
    seal.restart_checkpoints(event.seq, event.hash, old_id)
    return Rotation(old_id, new_id, len(changes), event.seq)
