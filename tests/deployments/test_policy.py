"""The traffic policy, attacked: an editor tries to give an unapproved version production
traffic through every route change; an admin overrides only with a reason; a direct edit of
the policy in the database is refused. Each refusal is checked on the stored routes, the
history and the audit trail, not only on the exception."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from loopml.deployments import Route
from loopml.errors import (
    AuditChainError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    ValidationError,
)
from loopml.governance import list_events, verify_chain
from loopml.governance.traffic_policy import OPEN
from loopml.sdk import Client
from loopml.store.schema import audit_events
from tests.deployments.conftest import Register

NAME = "bikes-api"
V1, V2, V3 = "model:bikes/1", "model:bikes/2", "model:bikes/3"


@dataclass
class Team:
    admin: Client  # the local admin of the workspace
    editor: Client  # erin
    approver: Client  # alice

    def approve_champion(self, ref: str) -> str:
        """erin asks, alice approves: `ref` becomes bikes@champion."""
        request = self.editor.models.request(ref, reason="better on the hold-out")
        assert self.approver.models.approvals.approve(request.id).status == "APPROVED"
        return request.id


@pytest.fixture
def team(make_client: Callable[..., Client], tmp_path: Path, register: Register) -> Team:
    """Versions 1-3 of `bikes` registered by the editor, v1 approved as champion and deployed
    on `bikes-api` — under the default traffic policy."""
    admin = make_client()
    logins = {}
    for name, role in (("erin", "editor"), ("alice", "approver")):
        admin.models.identity.create_principal(name, role)
        token = admin.models.identity.create_token(name, label="tests")
        logins[name] = make_client(root=tmp_path / "ws", token=token)
    team = Team(admin, logins["erin"], logins["alice"])
    register(team.editor, 3)
    team.approve_champion(V1)
    team.editor.deployments.create(NAME, "model:bikes@champion")
    return team


def _snapshot(client: Client, name: str = NAME) -> tuple[Any, ...]:
    """Everything a refused change must leave as it was."""
    deployment = client.deployments.get(name)
    return (
        deployment.routes,
        deployment.shadows,
        deployment.revision,
        client.deployments.history(name),
        len(list_events(client.stores.engine, obj=f"deployment:{name}")),
        client.rollouts.list(deployment=name),
    )


def _served(client: Client, name: str = NAME) -> list[tuple[str, float]]:
    return [(r.uri, r.weight) for r in client.deployments.get(name).routes]


# ---------------------------------------------------------------------- the finding
def test_an_editor_cannot_blue_green_an_unapproved_version(team: Team) -> None:
    """`loopml deploy blue-green bikes-api model:bikes/3 --no-smoke-test` by an editor."""
    before = _snapshot(team.admin)
    with pytest.raises(PolicyViolationError) as refused:
        team.editor.deployments.blue_green(NAME, V3, smoke_test=False)
    message = str(refused.value)
    assert "model:bikes/3 would get 100% of the traffic" in message
    assert "the default traffic policy" in message
    assert "holds the protected alias 'champion'" in message
    assert "bikes@champion is model:bikes/1" in message
    assert "`loopml models request model:bikes/3 --alias champion`" in message
    assert "--override-policy --reason" in message
    assert _snapshot(team.admin) == before
    assert _served(team.admin) == [(V1, 100.0)]


ATTACKS: dict[str, Callable[[Client], object]] = {
    "promote": lambda c: c.deployments.promote(NAME, V3),
    "update to 100 %": lambda c: c.deployments.update(NAME, [Route("bikes", 3)], strategy="single"),
    "update to 60 %": lambda c: c.deployments.update(
        NAME, [Route("bikes", 1, 40), Route("bikes", 3, 60)]
    ),
    "canary 10 %": lambda c: c.deployments.canary(NAME, V3, 10),
    "canary 90 %": lambda c: c.deployments.canary(NAME, V3, 90),
    "blue-green with a smoke test": lambda c: c.deployments.blue_green(NAME, V3),
    "rollout start, blue-green": lambda c: c.rollouts.start(NAME, V3, {"steps": [100]}),
    "rollout start, canary": lambda c: c.rollouts.start(NAME, V3, {"steps": [10, 50, 100]}),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_route_change_holds_an_unapproved_version_back(team: Team, attack: str) -> None:
    before = _snapshot(team.admin)
    with pytest.raises(PolicyViolationError, match=r"model:bikes/3 would get \d+% of the traffic"):
        ATTACKS[attack](team.editor)
    assert _snapshot(team.admin) == before
    assert _served(team.admin) == [(V1, 100.0)]


def test_a_new_deployment_of_an_unapproved_version_is_refused(team: Team) -> None:
    with pytest.raises(PolicyViolationError, match="create of deployment 'side-door' refused"):
        team.editor.deployments.create("side-door", V3)
    with pytest.raises(NotFoundError):
        team.admin.deployments.get("side-door")
    assert [d.name for d in team.admin.deployments.list()] == [NAME]


def test_a_shadow_of_any_version_is_allowed(team: Team) -> None:
    mirrored = team.editor.deployments.shadow(NAME, V3)
    assert [s.uri for s in mirrored.shadows] == [V3]
    assert _served(team.admin) == [(V1, 100.0)]  # its answers are logged, never returned


# ---------------------------------------------------------------------- what is admitted
def test_a_version_whose_checks_passed_may_take_a_canary_up_to_the_limit(team: Team) -> None:
    team.admin.models.set_policy(
        "bikes",
        {"thresholds": [{"metric": "train_r2", "op": ">=", "value": 0.1}]},
    )
    request = team.editor.models.request(V2, reason="retrained")
    assert request.status == "PENDING" and request.checks_passed

    team.editor.deployments.canary(NAME, V2, 10)
    team.editor.deployments.canary(NAME, V2, 50)
    assert _served(team.admin) == [(V1, 50.0), (V2, 50.0)]
    before = _snapshot(team.admin)
    for attack in (
        lambda: team.editor.deployments.canary(NAME, V2, 51),
        lambda: team.editor.deployments.promote(NAME, V2),
        lambda: team.editor.deployments.blue_green(NAME, V2, smoke_test=False),
    ):
        with pytest.raises(PolicyViolationError, match=r"more than 50% only to a version"):
            attack()
    assert _snapshot(team.admin) == before

    assert team.approver.models.approvals.approve(request.id).status == "APPROVED"
    promoted = team.editor.deployments.promote(NAME, V2)  # now bikes@champion
    assert [(r.uri, r.weight) for r in promoted.routes] == [(V2, 100.0)]
    # a rollback gives back only shares the deployment had before: v1 at 50 %
    back = team.editor.deployments.rollback(NAME, reason="p99 doubled")
    assert [(r.uri, r.weight) for r in back.routes] == [(V1, 50.0), (V2, 50.0)]


def test_the_stable_version_may_always_lose_traffic(team: Team) -> None:
    """v1 is no longer champion, yet a canary may still shrink it."""
    team.approve_champion(V2)
    changed = team.editor.deployments.canary(NAME, V2, 20)
    assert [(r.uri, r.weight) for r in changed.routes] == [(V1, 80.0), (V2, 20.0)]
    with pytest.raises(PolicyViolationError, match="model:bikes/1 would get 90%"):
        team.editor.deployments.update(NAME, [Route("bikes", 1, 90), Route("bikes", 2, 10)])
    assert _served(team.admin) == [(V1, 80.0), (V2, 20.0)]


@pytest.mark.parametrize("how", ["rejected by an approver", "failed its checks"])
def test_a_request_that_did_not_pass_admits_nothing(team: Team, how: str) -> None:
    if how == "failed its checks":
        team.admin.models.set_policy(
            "bikes", {"thresholds": [{"metric": "train_r2", "op": ">=", "value": 2.0}]}
        )
    request = team.editor.models.request(V2)
    if how == "rejected by an approver":
        team.approver.models.approvals.reject(request.id, comment="not on summer data")
    assert team.admin.models.approvals.get(request.id).status == "REJECTED"
    with pytest.raises(PolicyViolationError, match="model:bikes/2 would get 10%"):
        team.editor.deployments.canary(NAME, V2, 10)
    assert _served(team.admin) == [(V1, 100.0)]


def test_an_alias_rule_admits_the_version_holding_it(team: Team) -> None:
    team.admin.deployments.policy.set(
        {"partial_traffic": ["approved", "alias:challenger"], "max_partial_weight": 20},
        reason="challengers may take small canaries",
    )
    with pytest.raises(PolicyViolationError, match="holds the alias 'challenger'"):
        team.editor.deployments.canary(NAME, V3, 10)
    team.editor.models.registry.set_alias("bikes", "challenger", 3)
    team.editor.deployments.canary(NAME, V3, 20)
    with pytest.raises(PolicyViolationError, match="more than 20%"):
        team.editor.deployments.canary(NAME, V3, 30)
    assert _served(team.admin) == [(V1, 80.0), (V3, 20.0)]


def test_an_unprotected_champion_proves_no_approval(team: Team, register: Register) -> None:
    team.admin.models.registry.create_model("legacy", protected_aliases=[])
    register(team.editor, 1, name="legacy")
    team.editor.models.registry.set_alias("legacy", "champion", 1)  # no approval needed
    with pytest.raises(PolicyViolationError, match="'champion' is not protected on model"):
        team.editor.deployments.create("legacy-api", "model:legacy@champion")
    with pytest.raises(NotFoundError):
        team.admin.deployments.get("legacy-api")


# ---------------------------------------------------------------------- the admin override
def test_an_admin_override_needs_a_reason_and_is_audited(team: Team) -> None:
    before = _snapshot(team.admin)
    with pytest.raises(PolicyViolationError):  # admins are held to the policy too
        team.admin.deployments.blue_green(NAME, V3, smoke_test=False)
    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="needs a reason"):
            team.admin.deployments.blue_green(NAME, V3, smoke_test=False, override_reason=blank)
    with pytest.raises(PermissionDeniedError, match=r"erin \(editor\).*override.*admin"):
        team.editor.deployments.blue_green(NAME, V3, smoke_test=False, override_reason="urgent")
    with pytest.raises(PermissionDeniedError, match="admin"):
        team.editor.deployments.promote(NAME, V3, override_reason="urgent")
    assert _snapshot(team.admin) == before

    reason = "incident 7: v1 leaks postcodes; v3 is the fix"
    switched = team.admin.deployments.blue_green(NAME, V3, override_reason=reason)
    assert [(r.uri, r.weight) for r in switched.routes] == [(V3, 100.0)]
    event = list_events(team.admin.stores.engine, obj=f"deployment:{NAME}")[-1]
    assert event.actor == team.admin.principal.name
    override = event.details["policy"]["override"]
    assert override["reason"] == reason
    assert "model:bikes/3 would get 100% of the traffic" in override["refusals"][0]
    assert team.admin.deployments.history(NAME)[-1]["reason"] == reason
    assert verify_chain(team.admin.stores.engine).ok


def test_an_admitted_change_records_the_policy_it_obeyed(team: Team) -> None:
    team.admin.deployments.policy.set({"max_partial_weight": 30}, reason="small canaries")
    team.approve_champion(V2)
    team.editor.deployments.promote(NAME, V2)
    event = list_events(team.admin.stores.engine, obj=f"deployment:{NAME}")[-1]
    assert event.details["policy"]["source"] == "workspace"
    assert event.details["policy"]["event"] == team.admin.deployments.policy.get().event
    assert "override" not in event.details["policy"]


# ---------------------------------------------------------------------- the policy itself
def test_only_an_admin_sets_or_clears_the_policy(team: Team) -> None:
    with pytest.raises(PermissionDeniedError, match=r"erin \(editor\).*admin"):
        team.editor.deployments.policy.set(OPEN)
    with pytest.raises(PermissionDeniedError, match="admin"):
        team.editor.deployments.policy.set(OPEN, deployment=NAME)
    with pytest.raises(PermissionDeniedError, match="admin"):
        team.approver.deployments.policy.clear()
    assert team.editor.deployments.policy.get(NAME).scope == "default"
    with pytest.raises(PolicyViolationError):
        team.editor.deployments.promote(NAME, V3)


def test_a_deployment_policy_applies_to_it_alone(team: Team) -> None:
    team.editor.deployments.create("bikes-staging", "model:bikes@champion")
    set_ = team.admin.deployments.policy.set(OPEN, deployment="bikes-staging", reason="staging")
    assert (set_.scope, set_.deployment, set_.reason) == ("deployment", "bikes-staging", "staging")
    team.editor.deployments.blue_green("bikes-staging", V3, smoke_test=False)
    assert _served(team.admin, "bikes-staging") == [(V3, 100.0)]
    with pytest.raises(PolicyViolationError):
        team.editor.deployments.blue_green(NAME, V3, smoke_test=False)

    cleared = team.admin.deployments.policy.clear(deployment="bikes-staging")
    assert cleared.scope == "default"
    with pytest.raises(PolicyViolationError, match="model:bikes/2 would get 100%"):
        team.editor.deployments.promote("bikes-staging", V2)
    with pytest.raises(NotFoundError, match="no traffic policy of its own"):
        team.admin.deployments.policy.clear(deployment="bikes-staging")


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"full_traffic": ["approvd"]}, "unknown rule 'approvd'"),
        ({"partial_traffic": ["alias:no such"]}, "alias of rule"),
        ({"approved_alias": "7"}, "approved_alias"),
        ({"max_partial_weight": 0}, "max_partial_weight"),
        ({"max_partial_weight": 150}, "max_partial_weight"),
        ({"shadow": []}, "shadow"),
        ({"full_trafic": ["any"]}, "full_trafic"),
        ("open", "must be a dict"),
    ],
)
def test_a_malformed_policy_is_refused_and_changes_nothing(
    team: Team, policy: Any, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        team.admin.deployments.policy.set(policy)
    assert team.admin.deployments.policy.get().scope == "default"


def test_unknown_deployments_are_named(team: Team) -> None:
    with pytest.raises(NotFoundError, match="no deployment 'nope'"):
        team.admin.deployments.policy.set(OPEN, deployment="nope")
    with pytest.raises(NotFoundError, match="no deployment 'nope'"):
        team.admin.deployments.policy.get("nope")
    with pytest.raises(NotFoundError, match="the workspace has no traffic policy"):
        team.admin.deployments.policy.clear()


# ---------------------------------------------------------------------- the database
def _policy_event(client: Client) -> int:
    found = client.deployments.policy.get().event
    assert found is not None
    return found


def test_a_policy_edited_in_the_database_is_refused(team: Team) -> None:
    """Someone with write access to the database loosens the policy's stored event."""
    team.admin.deployments.policy.set({"max_partial_weight": 10}, reason="tiny canaries")
    seq = _policy_event(team.admin)
    engine = team.admin.stores.engine
    with engine.begin() as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == seq)
            .values(details={"policy": OPEN.model_dump(mode="json"), "reason": "tiny canaries"})
        )
    before = _snapshot(team.admin)
    for attack in (
        lambda: team.editor.deployments.blue_green(NAME, V3, smoke_test=False),
        lambda: team.editor.deployments.canary(NAME, V3, 5),
        lambda: team.editor.deployments.create("side-door", V3),
    ):
        with pytest.raises(AuditChainError, match=f"audit event {seq}.*edited outside loopml"):
            attack()
    assert _snapshot(team.admin) == before
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == seq

    team.admin.deployments.policy.set({"max_partial_weight": 10}, reason="set again")
    with pytest.raises(PolicyViolationError):  # the stricter policy holds again
        team.editor.deployments.canary(NAME, V3, 5)


def test_a_forged_policy_event_is_refused(team: Team) -> None:
    """A row inserted with an open policy and a made-up MAC."""
    engine = team.admin.stores.engine
    with engine.begin() as conn:
        last = conn.execute(select(audit_events).order_by(audit_events.c.seq.desc())).first()
        assert last is not None
        conn.execute(
            audit_events.insert().values(
                seq=last.seq + 1,
                time=last.time + 1,
                actor=team.admin.principal.name,
                action="traffic_policy.set",
                object="workspace:traffic-policy",
                details={"policy": OPEN.model_dump(mode="json"), "reason": None},
                prev_hash=last.hash,
                hash="0" * 64,
            )
        )
    with pytest.raises(AuditChainError, match="does not match its MAC"):
        team.editor.deployments.blue_green(NAME, V3, smoke_test=False)
    assert _served(team.admin) == [(V1, 100.0)]


def test_deleting_the_policy_event_leaves_the_safe_default_and_is_found(team: Team) -> None:
    team.admin.deployments.policy.set(
        {"max_partial_weight": 5}, reason="a stricter policy than the default"
    )
    seq = _policy_event(team.admin)
    team.editor.deployments.shadow(NAME, V2)  # the trail goes on after the policy event
    engine = team.admin.stores.engine
    with engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == seq))
    # The default applies again: looser than the deleted one, but still approvals-only for
    # full traffic; and the deletion is a gap `audit verify` names.
    assert team.admin.deployments.policy.get().scope == "default"
    with pytest.raises(PolicyViolationError):
        team.editor.deployments.blue_green(NAME, V3, smoke_test=False)
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == seq + 1
