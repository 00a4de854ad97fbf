"""RolloutService on recorded traffic: steps, SLOs, promotion through approvals, rollbacks.

Traffic is written to the real prediction log with chosen timestamps, and `advance` is given
`now=`, so a rollout of several held steps runs without sleeping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.deployments import Route
from loopml.governance import list_events, verify_chain
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.rollouts import RolloutPlan, RolloutStep
from loopml.sdk import Client
from tests.deployments.conftest import Register

NAME = "bikes-api"
V1, V2 = "model:bikes/1", "model:bikes/2"
FAST = RolloutPlan(steps=(10, 50, 100), hold_s=60, min_requests=20, min_labelled=20)
_ids = itertools.count()


def send(
    client: Client,
    model: str,
    start: float,
    *,
    n: int = 40,
    errors: int = 0,
    noise: float | None = None,
    latency_ms: float = 5.0,
    deployment: str = NAME,
    spacing: float = 0.01,
    shadow: bool = False,
) -> None:
    """`n` requests to `model` from `start` on (`spacing` seconds apart), the first `errors` failed;
    with `noise`, each answered one gets feedback: the truth is the prediction ± `noise`."""
    rng = np.random.default_rng(next(_ids))
    with PredictionLog(client.stores) as log:
        for i in range(n):
            request_id = f"req-{next(_ids)}"
            at = start + i * spacing
            failed = i < errors
            prediction = float(rng.normal(100, 20))
            log.record(
                PredictionRecord(
                    deployment=deployment,
                    request_id=request_id,
                    model=model,
                    inputs=[] if failed else [{"temp": 3.0}],
                    outputs=[] if failed else [prediction],
                    probabilities=None,
                    latency_ms=latency_ms,
                    shadow=shadow,
                    at=at,
                    status=500 if failed else 200,
                )
            )
            if noise is not None and not failed:
                truth = prediction + (noise if i % 2 else -noise)  # rmse is exactly `noise`
                log.record_feedback(deployment, request_id, truth, at=at + 0.001)


def step_traffic(
    client: Client,
    start: float,
    *,
    candidate: dict[str, Any],
    stable: dict[str, Any],
    mirrored: bool = False,
) -> None:
    """Both sides' traffic in one step window; `mirrored`: the stable answers as a shadow
    (a 100 % step)."""
    send(client, V2, start + 1, **candidate)
    send(client, V1, start + 1, shadow=mirrored, **stable)


def setup(client: Client, register: Register, *, auto_approve: bool = True) -> None:
    register(client, 2)
    client.deployments.create(NAME, V1)
    if auto_approve:
        client.models.set_policy("bikes", {"auto_approve": True})
    else:  # one local admin plays every role here: the approver counts as a second person
        client.models.set_policy("bikes", {"independent_approvers": False})


def routes(client: Client, name: str = NAME) -> list[Route]:
    return client.deployments.get(name).routes


def actions(client: Client, rollout_id: str) -> list[str]:
    return [e.action for e in list_events(client.stores.engine, obj=f"rollout:{rollout_id}")]


def run_step(client: Client, step_started: float, **traffic: dict[str, Any]) -> RolloutStep:
    """Good traffic on both sides for one held step, then one advance."""
    good = {"noise": 5.0}
    step_traffic(
        client,
        step_started,
        candidate=traffic.get("candidate", good),
        stable=traffic.get("stable", good),
    )
    return client.rollouts.advance(NAME, now=step_started + FAST.hold_s + 5)


# ---------------------------------------------------------------------- the happy path
def test_a_good_candidate_goes_10_50_100_and_is_promoted(
    any_client: Client, register: Register
) -> None:
    client = any_client
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST, reason="v2 looks better offline")
    assert (rollout.state, rollout.step, rollout.weight, rollout.applied) == (
        "running",
        0,
        10,
        True,
    )
    assert (rollout.stable, rollout.candidate) == (V1, V2)
    assert routes(client) == [Route("bikes", 1, 90), Route("bikes", 2, 10)]
    assert client.deployments.get(NAME).strategy == "canary"
    assert rollout.step_started_at is not None

    first = run_step(client, rollout.step_started_at)
    assert first.action == "step" and first.analysis is not None and first.analysis.passed
    assert first.analysis.metric == "rmse" and first.analysis.requests == 40
    assert routes(client) == [Route("bikes", 1, 50), Route("bikes", 2, 50)]
    assert first.rollout.weight == 50

    second = run_step(client, first.rollout.step_started_at or 0)
    assert second.action == "step" and second.rollout.weight == 100
    assert routes(client) == [Route("bikes", 2, 100)]
    assert client.deployments.get(NAME).strategy == "blue-green"
    # At 100 % the stable answers a mirrored copy of the requests: judged on the same window.
    assert client.deployments.get(NAME).shadows == [Route("bikes", 1, 100)]

    started = second.rollout.step_started_at or 0
    step_traffic(client, started, candidate={"noise": 5.0}, stable={"noise": 5.0}, mirrored=True)
    last = client.rollouts.advance(NAME, now=started + FAST.hold_s + 5)
    assert last.action == "promote" and last.rollout.state == "promoted"
    assert last.analysis is not None and last.analysis.stable_labelled == 40
    assert client.models.get("bikes@champion").version == 2
    deployment = client.deployments.get(NAME)
    assert (deployment.routes, deployment.strategy) == ([Route("bikes", 2, 100)], "single")
    assert deployment.shadows == []  # the rollout's mirror ends with it
    assert last.rollout.approval_id is not None
    assert client.models.approvals.get(last.rollout.approval_id).status == "APPROVED"

    assert actions(client, rollout.id) == [
        "rollout.start",
        "rollout.step",
        "rollout.step",
        "rollout.promote",
    ]
    history = client.rollouts.history(rollout.id)
    assert [(h["action"], h["state"], h["weight"]) for h in history] == [
        ("start", "running", 10),
        ("step", "running", 50),
        ("step", "running", 100),
        ("promote", "promoted", 100),
    ]
    assert history[0]["reasons"] == ["v2 looks better offline"]
    assert history[1]["analysis"]["passed"] is True
    assert client.rollouts.advance(NAME).action == "none"  # finished: nothing to do
    assert client.rollouts.list("promoted") == [client.rollouts.get(NAME)]
    assert client.rollouts.list("active") == [] and client.rollouts.due() == []
    assert verify_chain(client.stores.engine).ok


def test_not_ready_changes_nothing_and_says_what_it_waits_for(
    client: Client, register: Register
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    started = rollout.step_started_at or 0
    send(client, V2, started + 1, n=5)
    waited = client.rollouts.advance(NAME, now=started + 10)
    assert waited.action == "wait" and not waited.changed
    assert any(w.startswith("hold: 50 s more") for w in waited.waiting_for)
    assert f"requests: 5 of 20 to {V2}" in waited.waiting_for
    again = client.rollouts.advance(NAME, now=started + 10)
    assert again.rollout == waited.rollout == client.rollouts.get(NAME)  # nothing written
    assert actions(client, rollout.id) == ["rollout.start"]

    # Held long enough, but too few requests: still waiting (no timeout set).
    assert client.rollouts.advance(NAME, now=started + 10_000).waiting_for == [
        f"requests: 5 of 20 to {V2}"
    ]


def test_without_feedback_the_step_waits_and_never_passes(
    client: Client, register: Register
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    started = rollout.step_started_at or 0
    step_traffic(client, started, candidate={}, stable={})  # no labels at all
    waited = client.rollouts.advance(NAME, now=started + 65)
    assert waited.action == "wait" and waited.analysis is not None
    assert not waited.analysis.passed and not waited.analysis.failures
    [accuracy] = [c for c in waited.analysis.checks if c.name == "accuracy"]
    assert accuracy.status == "undecided"
    assert waited.waiting_for == [
        "not enough feedback yet: 0 labelled candidate and 0 labelled stable predictions in "
        "this window, 20 needed on each side"
    ]
    assert actions(client, rollout.id) == ["rollout.start"]  # nothing written

    # Without an accuracy SLO the same traffic is judged on errors and latency alone.
    client.rollouts.abort(NAME, "judge on errors and latency alone")
    plain = RolloutPlan(steps=(10, 50, 100), hold_s=60, min_requests=20, max_accuracy_drop=None)
    again = client.rollouts.start(NAME, "bikes/2", plain)
    step_traffic(client, again.step_started_at or 0, candidate={}, stable={})
    moved = client.rollouts.advance(NAME, now=(again.step_started_at or 0) + 65)
    assert moved.action == "step" and moved.analysis is not None
    assert [c.status for c in moved.analysis.checks] == ["passed", "skipped", "skipped"]


# ---------------------------------------------------------------------- rollbacks
def test_a_less_accurate_candidate_is_rolled_back(client: Client, register: Register) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    failed = run_step(
        client,
        rollout.step_started_at or 0,
        candidate={"noise": 30.0},
        stable={"noise": 5.0},
    )
    assert failed.action == "rollback" and failed.rollout.state == "rolled_back"
    assert failed.analysis is not None and failed.analysis.metric == "rmse"
    assert (failed.analysis.candidate_value or 0) > 2 * (failed.analysis.stable_value or 0)
    assert failed.rollout.reasons[0].startswith("rmse ")
    assert "beyond the allowed drop 0.05" in failed.rollout.reasons[0]
    assert routes(client) == [Route("bikes", 1, 100)]
    assert client.deployments.get(NAME).strategy == "single"
    assert "champion" not in client.models.model("bikes").aliases
    assert actions(client, rollout.id) == ["rollout.start", "rollout.rollback"]
    assert client.rollouts.get(NAME).finished_at is not None
    # The deployment is free for the next rollout.
    assert client.rollouts.start(NAME, "bikes/2", FAST).state == "running"


def test_an_erroring_candidate_is_rolled_back_before_the_hold_ends(
    client: Client, register: Register
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    started = rollout.step_started_at or 0
    send(client, V2, started + 1, n=30, errors=6)
    failed = client.rollouts.advance(NAME, now=started + 10)  # held 10 s of 60
    assert failed.action == "rollback"
    assert failed.rollout.reasons == [
        "error rate 20.00% (6 of 30 requests failed) above the limit 1.00%"
    ]
    assert routes(client) == [Route("bikes", 1, 100)]


def test_a_slow_candidate_is_rolled_back(client: Client, register: Register) -> None:
    setup(client, register)
    plan = RolloutPlan(steps=(25, 100), hold_s=60, min_requests=20, max_p99_ms=100)
    rollout = client.rollouts.start(NAME, "bikes/2", plan)
    send(client, V2, (rollout.step_started_at or 0) + 1, latency_ms=450.0)
    failed = client.rollouts.advance(NAME, now=(rollout.step_started_at or 0) + 61)
    assert failed.action == "rollback"
    assert failed.rollout.reasons == ["p99 latency 450.0 ms above the limit 100 ms"]


def test_a_step_that_gets_no_traffic_times_out(client: Client, register: Register) -> None:
    setup(client, register)
    plan = RolloutPlan(steps=(10, 100), hold_s=60, min_requests=100, timeout_s=600)
    rollout = client.rollouts.start(NAME, "bikes/2", plan)
    started = rollout.step_started_at or 0
    send(client, V2, started + 1, n=3)
    assert client.rollouts.advance(NAME, now=started + 599).action == "wait"
    timed_out = client.rollouts.advance(NAME, now=started + 600)
    assert timed_out.action == "rollback"
    assert timed_out.rollout.reasons == [
        "step 1 (10%) timed out: the candidate got 3 of 100 requests in 600 s"
    ]


# ---------------------------------------------------------------------- approvals
@pytest.fixture
def approver(client: Client, tmp_path: Path, make_client: Callable[..., Client]) -> Client:
    client.models.identity.create_principal("alice", "approver")
    token = client.models.identity.create_token("alice", label="tests")
    return make_client(root=tmp_path / "ws", token=token)


def _to_the_last_step(client: Client, plan: RolloutPlan) -> RolloutStep:
    rollout = client.rollouts.start(NAME, "bikes/2", plan)
    started = rollout.step_started_at or 0
    good = {"noise": 5.0}
    step_traffic(client, started, candidate=good, stable=good, mirrored=plan.blue_green)
    return client.rollouts.advance(NAME, now=started + plan.hold_s + 5)


def test_a_pending_approval_holds_the_rollout_until_it_is_approved(
    client: Client, register: Register, approver: Client
) -> None:
    setup(client, register, auto_approve=False)
    plan = RolloutPlan(steps=(100,), hold_s=60, min_requests=20, min_labelled=20)
    waiting = _to_the_last_step(client, plan)
    assert waiting.action == "step" and waiting.rollout.state == "awaiting_approval"
    request_id = waiting.rollout.approval_id
    assert request_id is not None and client.models.approvals.get(request_id).status == "PENDING"
    assert "pending: 0 of 1 approvals" in waiting.waiting_for[0]
    assert routes(client) == [Route("bikes", 2, 100)]  # traffic stays at the last step

    later = client.rollouts.advance(NAME)
    assert later.action == "wait" and later.rollout.revision == waiting.rollout.revision
    assert len(client.models.approvals.list("bikes")) == 1  # no second request

    approver.models.approvals.approve(request_id, "the canary held up")
    done = client.rollouts.advance(NAME)
    assert done.action == "promote" and done.rollout.state == "promoted"
    assert client.models.get("bikes@champion").version == 2
    assert client.deployments.get(NAME).strategy == "single"
    assert actions(client, done.rollout.id) == [
        "rollout.start",
        "rollout.step",
        "rollout.promote",
    ]


def test_a_rejected_approval_rolls_back(
    client: Client, register: Register, approver: Client
) -> None:
    setup(client, register, auto_approve=False)
    plan = RolloutPlan(steps=(50, 100), hold_s=60, min_requests=20, min_labelled=20)
    first = _to_the_last_step(client, plan)
    started = first.rollout.step_started_at or 0
    good = {"noise": 5.0}
    step_traffic(client, started, candidate=good, stable=good, mirrored=True)
    waiting = client.rollouts.advance(NAME, now=started + 65)
    assert waiting.rollout.state == "awaiting_approval"
    approver.models.approvals.reject(waiting.rollout.approval_id or "", "not this week")
    rejected = client.rollouts.advance(NAME)
    assert rejected.action == "rollback"
    assert "was rejected: not this week" in rejected.rollout.reasons[0]
    assert routes(client) == [Route("bikes", 1, 100)]
    assert client.deployments.get(NAME).shadows == []


def test_an_existing_request_is_used_rather_than_a_new_one(
    client: Client, register: Register, approver: Client
) -> None:
    setup(client, register, auto_approve=False)
    gate = client.models.request("bikes/2", reason="validation gate passed")
    plan = RolloutPlan(steps=(100,), hold_s=60, min_requests=20, max_accuracy_drop=None)
    waiting = _to_the_last_step(client, plan)
    assert waiting.rollout.approval_id == gate.id
    approver.models.approvals.approve(gate.id)
    assert client.rollouts.advance(NAME).rollout.state == "promoted"
    assert [r.id for r in client.models.approvals.list("bikes")] == [gate.id]


def test_an_unprotected_champion_moves_directly(client: Client, register: Register) -> None:
    client.models.registry.create_model("bikes", protected_aliases=())
    register(client, 2)
    client.deployments.create(NAME, V1)
    plan = RolloutPlan(steps=(100,), hold_s=0, min_requests=0, max_accuracy_drop=None)
    rollout = client.rollouts.start(NAME, "bikes/2", plan)
    done = client.rollouts.advance(NAME, now=(rollout.step_started_at or 0) + 1)
    assert done.action == "promote" and done.rollout.approval_id is None
    assert client.models.get("bikes@champion").version == 2
