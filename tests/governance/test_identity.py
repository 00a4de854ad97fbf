"""Identities: tokens checked on every use, honest local identities, require_tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor

from loopml.errors import PermissionDeniedError
from loopml.governance import list_events
from loopml.governance.identity import TokenSession
from loopml.sdk import Client, connect
from loopml.store.principal import os_user

STORES = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


def _pending_request(admin: Client, make_client: Callable[..., Client]) -> str:
    """A request opened by the editor erin, waiting for an approver."""
    admin.models.identity.create_principal("erin", "editor")
    token = admin.models.identity.create_token("erin")
    erin = make_client(root=admin.settings.root, store_url=admin.settings.store_url, token=token)
    with erin.start_run("bikes", capture_code=False) as run:
        model = DummyRegressor().fit(_frame(), [1.0, 2.0])
        version = run.log_model(model, name="bikes", input_example=_frame())
    assert version is not None
    return erin.models.request(version.uri).id


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0]})


# ---------------------------------------------------------------------- tokens on every use
@pytest.mark.parametrize("backend", STORES)
def test_attack_a_revoked_token_keeps_no_power_in_a_live_client(
    backend: str, make_client: Callable[..., Client]
) -> None:
    admin = make_client(backend)
    request_id = _pending_request(admin, make_client)
    identity = admin.models.identity
    identity.create_principal("alice", "approver")
    token = identity.create_token("alice")
    alice = make_client(backend, token=token, token_check_interval_s=0)
    assert alice.principal.name == "alice"
    token_id = next(
        e.details["token_id"]
        for e in list_events(admin.stores.engine, obj="principal:alice")
        if e.action == "token.create"
    )
    identity.revoke_token(token_id)
    with pytest.raises(PermissionDeniedError, match="revoked"):
        alice.models.approvals.approve(request_id)
    assert admin.models.approvals.get(request_id).status == "PENDING"


def test_revocation_reaches_a_live_client_within_a_second(
    client: Client, make_client: Callable[..., Client]
) -> None:
    request_id = _pending_request(client, make_client)
    identity = client.models.identity
    identity.create_principal("alice", "approver")
    alice = make_client(token=identity.create_token("alice"))  # default interval: 1 s
    assert alice.stores.settings.token_check_interval_s == 1.0
    token_id = next(
        e.details["token_id"]
        for e in list_events(client.stores.engine, obj="principal:alice")
        if e.action == "token.create"
    )
    identity.revoke_token(token_id)
    time.sleep(1.0)
    with pytest.raises(PermissionDeniedError, match="revoked"):
        alice.models.approvals.approve(request_id)
    assert client.models.approvals.get(request_id).status == "PENDING"


def test_attack_an_expired_token_keeps_no_power_in_a_live_client(
    client: Client, make_client: Callable[..., Client]
) -> None:
    request_id = _pending_request(client, make_client)
    identity = client.models.identity
    identity.create_principal("alice", "approver")
    alice = make_client(token=identity.create_token("alice", expires_in_s=0.5))
    assert alice.principal.name == "alice"
    time.sleep(0.6)  # expiry is checked on every call, with no cache
    with pytest.raises(PermissionDeniedError, match="expired"):
        alice.models.approvals.approve(request_id)
    with pytest.raises(PermissionDeniedError, match="expired"):
        _ = alice.principal
    assert client.models.approvals.get(request_id).status == "PENDING"


def test_a_session_sees_the_token_again_after_its_interval(client: Client) -> None:
    identity = client.models.identity
    identity.create_principal("alice", "approver")
    session = TokenSession(identity, identity.create_token("alice"), interval_s=3600)
    assert session.current().name == "alice"
    with pytest.raises(PermissionDeniedError, match="malformed"):
        TokenSession(identity, "not-a-token", interval_s=0)


# ---------------------------------------------------------------------- honest local identity
def test_attack_loopml_user_cannot_act_as_an_approver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_client: Callable[..., Client]
) -> None:
    admin = make_client(root=tmp_path / "ws")
    request_id = _pending_request(admin, make_client)
    admin.models.identity.create_principal("approver1", "approver")
    monkeypatch.setenv("LOOPML_USER", "approver1")
    monkeypatch.delenv("LOOPML_TOKEN", raising=False)
    local = connect(tmp_path / "ws")
    try:
        me = local.principal
        assert me.name == f"local:{os_user()}" and not me.authenticated
        done = local.models.approvals.approve(request_id)
        # the record names the operating-system user, marked local: never approver1
        assert [d.principal for d in done.decisions] == [me.name]
        actors = {e.actor for e in list_events(local.stores.engine)}
        assert "approver1" not in actors
        # and a chosen name cannot create principals as someone else either
        local.models.identity.create_principal("eve", "admin")
        assert local.models.identity.get("eve").created_by == me.name
    finally:
        local.close()


def test_attack_require_tokens_refuses_changes_without_a_token(
    tmp_path: Path, make_client: Callable[..., Client]
) -> None:
    admin = make_client(root=tmp_path / "ws")
    admin.models.identity.create_principal("alice", "approver")
    token = admin.models.identity.create_token("alice")
    request_id = _pending_request(admin, make_client)
    strict = make_client(root=tmp_path / "ws", require_tokens=True)
    assert strict.principal.role == "viewer" and not strict.principal.authenticated
    for change in (
        lambda: strict.models.approvals.approve(request_id),
        lambda: strict.models.identity.create_principal("eve", "admin"),
        lambda: strict.log_dataset("d", _frame()),
        lambda: strict.start_run("exp", capture_code=False),
    ):
        with pytest.raises(PermissionDeniedError, match="require_tokens"):
            change()
    assert strict.models.approvals.get(request_id).status == "PENDING"  # reads still work
    with_token = make_client(root=tmp_path / "ws", require_tokens=True, token=token)
    assert with_token.models.approvals.approve(request_id).status == "APPROVED"
