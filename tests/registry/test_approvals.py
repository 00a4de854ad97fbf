"""Approval workflow: policies, four eyes, roles, automatic checks, audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loopml import ConflictError, PermissionDeniedError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.registry import ModelVersion
from loopml.sdk import Client

from .conftest import BikeData, train_version

Team = dict[str, Client]


@pytest.fixture
def team(client: Client, tmp_path: Path, make_client: Callable[..., Client]) -> Team:
    """Clients acting as an editor, two approvers and a viewer, each logged in by token."""
    people = {"erin": "editor", "alice": "approver", "bob": "approver", "vic": "viewer"}
    clients = {"admin": client}
    for name, role in people.items():
        client.models.identity.create_principal(name, role)
        token = client.models.identity.create_token(name, label="tests")
        other = make_client(root=tmp_path / "ws", token=token)
        assert other.principal.name == name and other.principal.role == role
        clients[name] = other
    return clients


def test_protected_alias_needs_an_approval_by_someone_else(team: Team, bikes: BikeData) -> None:
    version = train_version(team["alice"], bikes)
    request = team["alice"].models.request(version.uri, reason="first champion")
    assert request.status == "PENDING" and request.requester == "alice"
    assert "champion" not in team["admin"].models.model("bikes").aliases

    with pytest.raises(PermissionDeniedError, match="four-eyes"):
        team["alice"].models.approvals.approve(request.id)
    with pytest.raises(PermissionDeniedError, match="approver role"):
        team["vic"].models.approvals.approve(request.id)
    with pytest.raises(PermissionDeniedError, match="approver role"):
        team["erin"].models.approvals.approve(request.id)
    with pytest.raises(PermissionDeniedError, match="editor"):
        team["vic"].models.request(version.uri)
    assert team["admin"].models.approvals.get(request.id).status == "PENDING"
    assert "champion" not in team["admin"].models.model("bikes").aliases

    done = team["bob"].models.approvals.approve(request.id, comment="metrics look right")
    assert done.status == "APPROVED"
    assert (done.reason, done.outcome) == ("first champion", "metrics look right")
    assert [(d.principal, d.decision, d.comment) for d in done.decisions] == [
        ("bob", "APPROVE", "metrics look right")
    ]
    assert team["vic"].models.get("bikes@champion").version == 1
    actions = [
        e.action for e in list_events(team["admin"].stores.engine, obj=f"request:{request.id}")
    ]
    assert actions == ["approval.request", "approval.approve", "approval.approved"]
    move = list_events(team["admin"].stores.engine, obj="model:bikes@champion")
    assert [(e.action, e.actor) for e in move] == [("alias.move", "bob")]
    assert verify_chain(team["admin"].stores.engine).ok


def test_two_approvals_and_rejection(team: Team, bikes: BikeData) -> None:
    team["admin"].models.registry.create_model("bikes")
    team["admin"].models.set_policy("bikes", {"required_approvals": 2})
    version = train_version(team["erin"], bikes)
    request = team["erin"].models.request(version.uri)
    assert team["alice"].models.approvals.approve(request.id).status == "PENDING"
    with pytest.raises(ConflictError, match="already decided"):
        team["alice"].models.approvals.approve(request.id)
    assert team["bob"].models.approvals.approve(request.id).status == "APPROVED"

    second = train_version(team["erin"], bikes, alpha=50.0)
    request = team["erin"].models.request(second.uri)
    rejected = team["bob"].models.approvals.reject(request.id, comment="worse on summer")
    assert rejected.status == "REJECTED"
    assert team["admin"].models.get("bikes@champion").version == 1
    with pytest.raises(ConflictError, match="REJECTED"):
        team["alice"].models.approvals.approve(request.id)


def test_roles_are_enforced_everywhere(team: Team, bikes: BikeData) -> None:
    with pytest.raises(PermissionDeniedError, match="editor"):
        train_version(team["vic"], bikes)
    with pytest.raises(PermissionDeniedError, match="admin"):
        team["erin"].models.set_policy("bikes", {"auto_approve": True})
    with pytest.raises(PermissionDeniedError, match="admin"):
        team["alice"].models.identity.create_principal("eve", "admin")
    assert team["vic"].search_runs() == []


def test_auto_approve_policy_says_so(client: Client, trained: Callable[..., ModelVersion]) -> None:
    client.models.registry.create_model("bikes")
    client.models.set_policy("bikes", {"auto_approve": True})
    request = client.models.request(trained().uri)
    assert request.status == "APPROVED"
    assert request.decisions[0].principal == "policy:auto-approve"
    assert "auto_approve" in (request.decisions[0].comment or "")
    assert client.models.get("bikes@champion").version == 1


def test_failed_threshold_rejects_and_leaves_the_alias(
    client: Client, trained: Callable[..., ModelVersion]
) -> None:
    client.models.registry.create_model("bikes")
    client.models.set_policy(
        "bikes",
        {
            "auto_approve": True,
            "thresholds": [
                {"metric": "train_r2", "op": ">=", "value": 0.99},
                {"metric": "missing_metric", "op": ">", "value": 0},
            ],
        },
    )
    request = client.models.request(trained().uri)
    assert request.status == "REJECTED"
    assert [c["passed"] for c in request.checks] == [False, False]
    assert "logged no metric" in request.checks[1]["message"]
    assert "champion" not in client.models.model("bikes").aliases


def test_no_regression_against_the_champion(client: Client, bikes: BikeData) -> None:
    summer = client.log_dataset("bikes-summer", bikes.later)
    client.models.registry.create_model("bikes")
    client.models.set_policy(
        "bikes",
        {
            "auto_approve": True,
            "no_regression": {
                "dataset": summer.uri,
                "target": "bikers",
                "metric": "rmse",
                "margin": 0.0,
            },
        },
    )
    good = train_version(client, bikes)
    assert client.models.request(good.uri).status == "APPROVED"
    worse = train_version(client, bikes, alpha=1e6)  # shrunk to the mean: far worse
    request = client.models.request(worse.uri)
    assert request.status == "REJECTED"
    check = request.checks[0]
    assert check["passed"] is False and check["value"] > check["baseline"]
    assert client.models.get("bikes@champion").version == good.version


def test_fairness_limits_are_checked(client: Client, bikes: BikeData) -> None:
    summer = client.log_dataset("bikes-summer", bikes.later)
    client.models.registry.create_model("bikes")
    client.models.set_policy(
        "bikes",
        {
            "auto_approve": True,
            "fairness": {
                "dataset": summer.uri,
                "target": "bikers",
                "sensitive": ["workingday"],
                "limits": {"mae_difference": 0.001},
            },
        },
    )
    request = client.models.request(train_version(client, bikes).uri)
    assert request.status == "REJECTED"
    assert request.checks and not request.checks[0]["passed"]
    client.models.set_policy(
        "bikes",
        {
            "auto_approve": True,
            "fairness": {
                "dataset": summer.uri,
                "target": "bikers",
                "sensitive": ["workingday"],
                "limits": {"mae_difference": 1e9},
            },
        },
    )
    assert client.models.request("bikes/1").status == "APPROVED"


def test_request_validation(client: Client, trained: Callable[..., ModelVersion]) -> None:
    version = trained()
    with pytest.raises(ValidationError, match="not protected"):
        client.models.request(version.uri, alias="challenger")
    pending = client.models.request(version.uri)
    with pytest.raises(ConflictError, match="pending"):
        client.models.request(version.uri)
    client.models.approvals.cancel(pending.id)
    with pytest.raises(ValidationError, match="policy"):
        client.models.set_policy("bikes", {"required_approvals": 0})
    with pytest.raises(ValidationError, match=r"unknown_key|extra"):
        client.models.set_policy("bikes", {"unknown_key": 1})


def test_withdraw_closes_a_pending_request_with_its_reason(team: Team, bikes: BikeData) -> None:
    version = train_version(team["alice"], bikes)
    request = team["alice"].models.request(version.uri)
    with pytest.raises(PermissionDeniedError, match="editor"):
        team["vic"].models.approvals.withdraw(request.id, "rolled back")
    with pytest.raises(ValidationError, match="say why"):
        team["erin"].models.approvals.withdraw(request.id, "  ")
    assert team["admin"].models.approvals.get(request.id).status == "PENDING"

    closed = team["erin"].models.approvals.withdraw(request.id, "rollout ro-1 rolled back")
    assert (closed.status, closed.outcome) == ("REJECTED", "rollout ro-1 rolled back")
    with pytest.raises(ConflictError, match="already REJECTED"):
        team["bob"].models.approvals.approve(request.id)
    with pytest.raises(ConflictError, match="already REJECTED"):
        team["erin"].models.approvals.withdraw(request.id, "again")
    assert "champion" not in team["admin"].models.model("bikes").aliases
    events = list_events(team["admin"].stores.engine, obj=f"request:{request.id}")
    assert [(e.action, e.actor) for e in events][-1] == ("approval.withdraw", "erin")
