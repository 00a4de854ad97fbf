"""Audit key rotation: the trail moves to a new key, stays verifiable, and records it."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from sqlalchemy import text

from loopml.errors import AuditChainError, PermissionDeniedError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.governance.rotation import rotate_key
from loopml.sdk import Client
from loopml.store.seal import key_id_of, read_key_file, write_key_file

STORES = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


def _activity(client: Client) -> None:
    with client.start_run("exp", capture_code=False) as run:
        run.log_metric("loss", 1.0)


@pytest.mark.parametrize("backend", STORES)
def test_rotation_re_macs_the_trail_and_records_itself(
    backend: str, make_client: Callable[..., Client]
) -> None:
    client = make_client(backend)
    other = make_client(backend)  # a second process-like client on the same workspace
    _activity(client)
    seal = client.stores.seal
    old_key = read_key_file(seal.key_file)
    before = [e.hash for e in list_events(client.stores.engine)]

    done = rotate_key(client.stores)

    assert done.old_key_id == key_id_of(old_key) and done.events == 3 and done.seq == 4
    new_key = read_key_file(seal.key_file)
    assert new_key != old_key and done.new_key_id == key_id_of(new_key)
    # the old key and the old checkpoints are kept for the record
    assert read_key_file(seal.key_file.with_name(f"audit.key.{done.old_key_id}")) == old_key
    assert seal.anchor_file.with_name(f"audit.anchor.{done.old_key_id}").exists()
    events = list_events(client.stores.engine)
    assert [e.hash for e in events[:3]] != before
    assert events[-1].action == "audit.rotate_key"
    assert events[-1].details == {
        "old_key": done.old_key_id,
        "new_key": done.new_key_id,
        "events": 3,
    }
    assert verify_chain(client.stores.engine).ok
    # the other client picks up the new key file and keeps the chain whole
    _activity(other)
    assert verify_chain(other.stores.engine).ok
    assert verify_chain(client.stores.engine).checked == 6


def test_rotation_refuses_a_broken_trail(client: Client) -> None:
    _activity(client)
    with client.stores.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    key = read_key_file(client.stores.seal.key_file)
    with pytest.raises(AuditChainError, match="refusing to re-key a broken audit trail"):
        rotate_key(client.stores)
    assert read_key_file(client.stores.seal.key_file) == key  # nothing changed


def test_rotation_needs_an_admin(client: Client, make_client: Callable[..., Client]) -> None:
    client.models.identity.create_principal("erin", "editor")
    erin = make_client(root=client.settings.root, token=client.models.identity.create_token("erin"))
    with pytest.raises(PermissionDeniedError, match="admin"):
        rotate_key(erin.stores)


def test_a_secret_key_rotates_only_to_a_given_key(make_client: Callable[..., Client]) -> None:
    secret = secrets.token_hex(32)
    client = make_client(audit_key=secret)
    _activity(client)
    assert not client.stores.seal.key_file.exists()  # the secret is the key: no file
    with pytest.raises(ValidationError, match="--new-key-env"):
        rotate_key(client.stores)
    with pytest.raises(ValidationError, match="the key in use"):
        rotate_key(client.stores, bytes.fromhex(secret))
    new = secrets.token_bytes(32)
    rotate_key(client.stores, new)
    assert verify_chain(client.stores.engine).ok
    assert not client.stores.seal.key_file.exists()
    # a process still holding the old secret sees a trail it cannot verify
    stale = make_client(audit_key=secret)
    result = verify_chain(stale.stores.engine)
    assert not result.ok and "key was replaced" in (result.reason or "")
    fresh = make_client(audit_key=new.hex())
    assert verify_chain(fresh.stores.engine).ok


@pytest.mark.parametrize("backend", STORES)
def test_a_client_that_appended_before_a_rotation_follows_the_new_key(
    backend: str, make_client: Callable[..., Client]
) -> None:
    """A process that committed the head remembers its key; a rotation elsewhere moves
    the head, so that process reads the new key file before its next append."""
    client = make_client(backend)
    other = make_client(backend)
    _activity(other)  # other committed the head: its next append would skip the key file
    rotate_key(client.stores)
    _activity(other)
    _activity(client)
    assert verify_chain(other.stores.engine).ok and verify_chain(client.stores.engine).ok
    assert verify_chain(client.stores.engine).checked == 8


def test_a_key_file_swapped_while_the_head_stands_still_is_not_used(client: Client) -> None:
    """A key file replaced and put back with nothing committed in between (a rotation
    whose commit failed) never changes the key the next append uses: the head this
    process committed was MACed with the key it holds."""
    _activity(client)
    seal = client.stores.seal
    kept = read_key_file(seal.key_file)
    write_key_file(seal.key_file, secrets.token_bytes(32), replace=True)
    assert key_id_of(seal.key()) != key_id_of(kept)  # a read now would see the other key
    write_key_file(seal.key_file, kept, replace=True)
    _activity(client)
    assert verify_chain(client.stores.engine).ok
