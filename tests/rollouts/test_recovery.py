"""Rollouts survive crashes and races: a step is never lost and never taken twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from loopml.deployments import DeploymentService, Route
from loopml.rollouts import RolloutPlan, RolloutStep
from loopml.sdk import Client
from tests.deployments.conftest import Register
from tests.rollouts.test_service import FAST, NAME, V1, V2, actions, send, setup, step_traffic


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs."""


def _killed(*_args: Any, **_kwargs: Any) -> Any:
    raise Killed


def _held_step(client: Client) -> float:
    """Start a rollout and give its first step good traffic; returns a `now` that is ready."""
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    started = rollout.step_started_at or 0
    step_traffic(client, started, candidate={"noise": 5.0}, stable={"noise": 5.0})
    return started + FAST.hold_s + 5


def test_a_crash_between_recording_and_applying_is_repaired(
    any_client: Client, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = any_client
    setup(client, register)
    now = _held_step(client)
    revision = client.deployments.get(NAME).revision

    with monkeypatch.context() as patch:
        patch.setattr(DeploymentService, "_change", _killed)
        with pytest.raises(Killed):
            client.rollouts.advance(NAME, now=now)
    recorded = client.rollouts.get(NAME)
    assert (recorded.weight, recorded.applied, recorded.step_started_at) == (50, False, None)
    assert client.deployments.get(NAME).revision == revision  # the traffic did not move yet
    assert [r.id for r in client.rollouts.due()] == [recorded.id]

    repaired = client.rollouts.advance(NAME, now=now + 1)
    assert repaired.action == "repair" and repaired.rollout.applied
    assert repaired.rollout.step_started_at == now + 1  # the hold starts when traffic moved
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 50), Route("bikes", 2, 50)]
    assert client.rollouts.advance(NAME, now=now + 2).action == "wait"
    assert actions(client, recorded.id) == ["rollout.start", "rollout.step"]  # not repeated


def test_a_crash_after_applying_does_not_apply_twice(
    client: Client, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(client, register)
    now = _held_step(client)
    real_change = DeploymentService._change

    def applied_then_killed(self: DeploymentService, *args: Any, **kwargs: Any) -> Any:
        real_change(self, *args, **kwargs)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(DeploymentService, "_change", applied_then_killed)
        with pytest.raises(Killed):
            client.rollouts.advance(NAME, now=now)
    revision = client.deployments.get(NAME).revision
    assert not client.rollouts.get(NAME).applied

    assert client.rollouts.advance(NAME, now=now + 1).action == "repair"
    assert client.deployments.get(NAME).revision == revision  # already live: not re-applied
    assert client.rollouts.get(NAME).applied


def test_a_rollback_interrupted_by_a_crash_still_reaches_the_deployment(
    client: Client, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", FAST)
    send(client, V2, (rollout.step_started_at or 0) + 1, errors=40)
    with monkeypatch.context() as patch:
        patch.setattr(DeploymentService, "_change", _killed)
        with pytest.raises(Killed):
            client.rollouts.advance(NAME, now=(rollout.step_started_at or 0) + 30)
    assert client.rollouts.get(NAME).state == "rolled_back"
    assert client.rollouts.list("active") == [] and len(client.rollouts.due()) == 1
    assert client.rollouts.advance(NAME).action == "repair"
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]
    assert client.rollouts.due() == []
    assert client.rollouts.advance(NAME).action == "none"


def test_two_controllers_advancing_at_once_make_one_transition(
    any_client: Client, register: Register
) -> None:
    client = any_client
    setup(client, register)
    now = _held_step(client)
    revision = client.deployments.get(NAME).revision
    barrier = threading.Barrier(4)
    results: list[RolloutStep] = []
    errors: list[BaseException] = []

    def controller() -> None:
        try:
            barrier.wait()
            results.append(client.rollouts.advance(NAME, now=now))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=controller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r.action for r in results).count("step") == 1
    rollout = client.rollouts.get(NAME)
    assert (rollout.weight, rollout.applied) == (50, True)
    assert actions(client, rollout.id) == ["rollout.start", "rollout.step"]
    history = client.deployments.history(NAME)
    moves = [h for h in history if h["revision"] > revision]
    assert [h["routes"][-1]["weight"] for h in moves] == [50.0]


def test_routing_changed_by_hand_aborts_the_rollout_and_keeps_the_change(
    client: Client, register: Register
) -> None:
    setup(client, register)
    client.rollouts.start(NAME, "bikes/2", FAST)
    client.deployments.update(NAME, [Route("bikes", 1, 100)], strategy="single", reason="hotfix")
    aborted = client.rollouts.advance(NAME)
    assert aborted.action == "abort" and aborted.rollout.state == "aborted"
    assert "changed outside the rollout" in aborted.rollout.reasons[0]
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]
    assert aborted.rollout.applied


def test_abort_sends_traffic_back_to_the_stable(client: Client, register: Register) -> None:
    setup(client, register)
    rollout = client.rollouts.start(NAME, "bikes/2", RolloutPlan(steps=(30, 100)))
    aborted = client.rollouts.abort(NAME, "  the dashboard looks odd ")
    assert (aborted.state, aborted.reasons) == ("aborted", ["the dashboard looks odd"])
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]
    assert actions(client, rollout.id) == ["rollout.start", "rollout.abort"]
    with pytest.raises(Exception, match="already finished \\(aborted\\)"):
        client.rollouts.abort(NAME, "again")
    assert client.rollouts.history(rollout.id)[-1]["reasons"] == ["the dashboard looks odd"]
    assert aborted.stable == V1
