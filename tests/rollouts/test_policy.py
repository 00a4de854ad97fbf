"""Rollouts under the default traffic policy: a candidate whose checks passed canaries up to
the policy's limit, full traffic waits for the champion approval, and the controller — an
editor like any other — never routes more than the policy admits, even after a crash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopml.deployments import DeploymentService, Route
from loopml.errors import PolicyViolationError
from loopml.governance import verify_chain
from loopml.rollouts import RolloutPlan
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.rollouts.test_service import FAST, NAME, V1, V2, step_traffic

GOOD = {"noise": 5.0}


@dataclass
class Team:
    admin: Client
    editor: Client  # erin: registers, requests, starts the rollout
    approver: Client  # alice
    controller: Client  # the controller's own principal (an editor): advances rollouts


@pytest.fixture
def team(make_client: Callable[..., Client], tmp_path: Path, register: Register) -> Team:
    """bikes v1 (champion, deployed) and v2, whose request for champion passed its checks
    and which holds challenger — what a pipeline's validation gate leaves behind."""
    admin = make_client()
    logins = {}
    for name, role in (("erin", "editor"), ("alice", "approver"), ("loop", "editor")):
        admin.models.identity.create_principal(name, role)
        token = admin.models.identity.create_token(name, label="tests")
        logins[name] = make_client(root=tmp_path / "ws", token=token)
    team = Team(admin, logins["erin"], logins["alice"], logins["loop"])
    register(team.editor, 2)
    first = team.editor.models.request(V1, reason="first champion")
    team.approver.models.approvals.approve(first.id)
    team.editor.deployments.create(NAME, "model:bikes@champion")
    gate = team.editor.models.request(V2, reason="validation gate passed")
    assert gate.status == "PENDING" and gate.checks_passed
    team.editor.models.registry.set_alias("bikes", "challenger", 2)
    return team


def _served(client: Client) -> list[Route]:
    return client.deployments.get(NAME).routes


def _largest_share_of(client: Client, version: int) -> float:
    """The most traffic `version` ever had on the deployment, over its whole history."""
    return max(
        (
            route["weight"]
            for revision in client.deployments.history(NAME)
            for route in revision["routes"]
            if route["version"] == version
        ),
        default=0.0,
    )


def _step(team: Team, started: float | None) -> Any:
    step_traffic(team.admin, started or 0, candidate=GOOD, stable=GOOD)
    return team.controller.rollouts.advance(NAME, now=(started or 0) + FAST.hold_s + 5)


def test_full_traffic_waits_for_the_approval_then_the_rollout_promotes(team: Team) -> None:
    rollout = team.editor.rollouts.start(NAME, V2, FAST, reason="retrained on March")
    assert _served(team.admin) == [Route("bikes", 1, 90), Route("bikes", 2, 10)]

    second = _step(team, rollout.step_started_at)
    assert second.action == "step" and second.rollout.weight == 50
    assert _served(team.admin) == [Route("bikes", 1, 50), Route("bikes", 2, 50)]

    held = _step(team, second.rollout.step_started_at)
    assert held.rollout.state == "awaiting_approval" and held.rollout.weight == 50
    assert "step 3 (100%) needs the approval" in held.rollout.reasons[0]
    assert (
        "more than 50% only to a version that holds the protected alias"
        in (held.rollout.reasons[0])
    )
    assert "pending: 0 of 1 approvals" in held.waiting_for[0]
    assert _served(team.admin) == [Route("bikes", 1, 50), Route("bikes", 2, 50)]
    again = team.controller.rollouts.advance(NAME)
    assert again.action == "wait" and again.rollout.revision == held.rollout.revision

    team.approver.models.approvals.approve(held.rollout.approval_id or "", "canary held up")
    done = team.controller.rollouts.advance(NAME)
    assert done.action == "promote" and done.rollout.state == "promoted"
    assert _served(team.admin) == [Route("bikes", 2, 100)]
    assert team.admin.models.get("bikes@champion").version == 2
    history = team.admin.deployments.history(NAME)
    full = [h["revision"] for h in history if h["routes"] == [Route("bikes", 2).to_dict()]]
    assert full == [history[-1]["revision"]]  # 100 % only once, after the approval
    assert history[-1]["actor"] == "loop"
    assert verify_chain(team.admin.stores.engine).ok


def test_a_rejected_approval_rolls_the_canary_back(team: Team) -> None:
    plan = RolloutPlan(steps=(20, 100), hold_s=FAST.hold_s, min_requests=20, min_labelled=20)
    rollout = team.editor.rollouts.start(NAME, V2, plan)
    held = _step(team, rollout.step_started_at)
    assert held.rollout.state == "awaiting_approval"
    team.approver.models.approvals.reject(held.rollout.approval_id or "", "not this week")
    back = team.controller.rollouts.advance(NAME)
    assert back.action == "rollback" and back.rollout.state == "rolled_back"
    assert _served(team.admin) == [Route("bikes", 1, 100)]
    assert _largest_share_of(team.admin, 2) == 20
    assert "challenger" not in team.admin.models.model("bikes").aliases  # called off


def test_a_blue_green_rollout_of_an_unapproved_version_is_refused(team: Team) -> None:
    with pytest.raises(PolicyViolationError, match=r"rollout start.*model:bikes/2 would get 100%"):
        team.editor.rollouts.start(NAME, V2, {"steps": [100]})
    with pytest.raises(PolicyViolationError, match=r"begins with a share the policy admits"):
        team.editor.rollouts.start(NAME, V2, {"steps": [60, 100]})
    assert team.admin.rollouts.list(deployment=NAME) == []
    assert _served(team.admin) == [Route("bikes", 1, 100)]


def test_a_policy_tightened_mid_rollout_holds_the_next_step(team: Team) -> None:
    rollout = team.editor.rollouts.start(NAME, V2, FAST)
    team.admin.deployments.policy.set({"max_partial_weight": 20}, reason="smaller canaries")
    held = _step(team, rollout.step_started_at)
    assert held.rollout.state == "awaiting_approval" and held.rollout.weight == 10
    assert "step 2 (50%) needs the approval" in held.rollout.reasons[0]
    assert _served(team.admin) == [Route("bikes", 1, 90), Route("bikes", 2, 10)]


def test_a_recorded_step_the_policy_no_longer_admits_is_aborted_not_applied(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller records step 2, dies before applying it, and meanwhile an admin
    tightens the policy: the repair refuses the step and stops the rollout where it is."""
    rollout = team.editor.rollouts.start(NAME, V2, FAST)

    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt  # stands for kill -9

    with monkeypatch.context() as patch:
        patch.setattr(DeploymentService, "_change", killed)
        with pytest.raises(KeyboardInterrupt):
            _step(team, rollout.step_started_at)
    recorded = team.admin.rollouts.get(NAME)
    assert (recorded.weight, recorded.applied) == (50, False)

    team.admin.deployments.policy.set({"max_partial_weight": 20}, reason="smaller canaries")
    stopped = team.controller.rollouts.advance(NAME)
    assert stopped.rollout.state == "aborted"
    assert "the traffic policy no longer admits this step" in stopped.rollout.reasons[0]
    assert _served(team.admin) == [Route("bikes", 1, 90), Route("bikes", 2, 10)]
    assert _largest_share_of(team.admin, 2) == 10


def test_a_rollout_rollback_returns_to_a_stable_that_lost_champion(team: Team) -> None:
    """The stable served 100 % before the rollout: a rollback may return it there even
    though champion has moved on since."""
    rollout = team.editor.rollouts.start(NAME, V2, FAST)
    request = team.admin.models.approvals.list("bikes", status="PENDING")[0]
    team.approver.models.approvals.approve(request.id)  # champion → v2 early
    assert team.admin.models.get("bikes@champion").version == 2
    step_traffic(team.admin, rollout.step_started_at or 0, candidate={"noise": 40.0}, stable=GOOD)
    failed = team.controller.rollouts.advance(NAME, now=(rollout.step_started_at or 0) + 65)
    assert failed.action == "rollback"
    assert _served(team.admin) == [Route("bikes", 1, 100)]
