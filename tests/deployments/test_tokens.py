"""Data-plane tokens: hashed at rest, scoped, revocable, audited, and only for editors."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from loopml.errors import NotFoundError, PermissionDeniedError, ValidationError
from loopml.sdk import Client, connect
from loopml.store.schema import audit_events, deployment_tokens
from tests.deployments.conftest import Register


def test_a_token_is_shown_once_and_stored_only_as_a_hash(
    client: Client, register: Register
) -> None:
    register(client)
    client.deployments.create("bikes-api", "model:bikes/1")
    made = client.deployments.tokens.create("bikes-api", ["feedback", "predict"], label="shop")
    assert made.token is not None and made.token.startswith("lmd_")
    assert made.scopes == ("predict", "feedback")
    with client.stores.engine.connect() as conn:
        (row,) = conn.execute(select(deployment_tokens)).all()
        actions = conn.execute(select(audit_events.c.action)).scalars().all()
    assert made.token not in str(tuple(row)) and len(row.token_hash) == 64
    assert "deployment.token.create" in actions
    (listed,) = client.deployments.tokens.list("bikes-api")
    assert listed.token is None and listed.id == made.id and listed.active()
    grants = client.deployments.tokens.grants(["bikes-api"])
    assert [g.token_id for g in grants.values()] == [made.id]


def test_revoked_and_expired_tokens_grant_nothing(client: Client, register: Register) -> None:
    register(client)
    client.deployments.create("bikes-api", "model:bikes/1")
    tokens = client.deployments.tokens
    kept = tokens.create("bikes-api", ["predict"])
    gone = tokens.create("bikes-api", ["predict"])
    brief = tokens.create("bikes-api", ["predict"], expires_in_s=0.05)
    tokens.revoke(gone.id)
    time.sleep(0.1)
    assert {g.token_id for g in tokens.grants().values()} == {kept.id}
    states = {t.id: (t.revoked, t.active()) for t in tokens.list()}
    assert states[gone.id] == (True, False) and states[brief.id] == (False, False)


def test_bad_requests_are_refused_with_the_fix(client: Client, register: Register) -> None:
    register(client)
    client.deployments.create("bikes-api", "model:bikes/1")
    tokens = client.deployments.tokens
    with pytest.raises(ValidationError, match="predict, feedback"):
        tokens.create("bikes-api", ["admin"])
    with pytest.raises(ValidationError, match="predict, feedback"):
        tokens.create("bikes-api", [])
    with pytest.raises(ValidationError, match="positive"):
        tokens.create("bikes-api", ["predict"], expires_in_s=-1)
    with pytest.raises(NotFoundError, match="loopml deploy list"):
        tokens.create("nope", ["predict"])
    with pytest.raises(NotFoundError, match="loopml deploy token list"):
        tokens.revoke("dtok-00000000")


def test_a_viewer_can_neither_create_nor_revoke_tokens(client: Client, register: Register) -> None:
    register(client)
    client.deployments.create("bikes-api", "model:bikes/1")
    made = client.deployments.tokens.create("bikes-api", ["predict"])
    client.models.identity.create_principal("vic", "viewer")
    secret = client.models.identity.create_token("vic")
    viewer = connect(client.settings.root, token=secret)
    try:
        with pytest.raises(PermissionDeniedError, match="editor"):
            viewer.deployments.tokens.create("bikes-api", ["feedback"])
        with pytest.raises(PermissionDeniedError, match="editor"):
            viewer.deployments.tokens.revoke(made.id)
        assert [t.id for t in viewer.deployments.tokens.list()] == [made.id]
    finally:
        viewer.close()
