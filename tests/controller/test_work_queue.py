"""Leases: an expired one is taken over, a lost one is not recorded, a hopeless event is
abandoned, and Ctrl-C hands the event over at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from loopml.controller import Controller, FunctionLauncher, LaunchOutcome
from loopml.controller.work_queue import EventQueue
from loopml.governance import list_events
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, MakeController, frame


@pytest.fixture
def pending(bikes_v1: Client, calls: Path) -> Client:
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:record", params={"log": str(calls)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    bikes_v1.triggers.evaluate()
    return bikes_v1


def test_an_event_is_claimed_by_one_controller_at_a_time(pending: Client) -> None:
    now = time.time()
    first = EventQueue(pending.stores, "a", 60.0, 3)
    second = EventQueue(pending.stores, "b", 60.0, 3)
    [event] = first.runnable(now)
    claimed = first.claim(event, now)
    assert claimed is not None and claimed.owner == "a"
    assert second.claim(event, now) is None
    assert second.runnable(now) == []
    [expired] = second.runnable(now + 61)
    taken = second.claim(expired, now + 61)
    assert taken is not None and (taken.owner, taken.attempts) == ("b", 2)
    outcome = LaunchOutcome("succeeded")
    trigger = pending.triggers.get("retrain")
    assert first.finish(claimed, trigger, outcome, now) is None  # a lost lease records nothing
    assert second.finish(taken, trigger, outcome, now) is not None


def test_an_event_whose_controllers_keep_dying_is_abandoned(pending: Client) -> None:
    now = time.time()
    for attempt in range(3):
        queue = EventQueue(pending.stores, f"c{attempt}", 1.0, 3)
        [event] = queue.runnable(now + 10 * attempt)
        assert queue.claim(event, now + 10 * attempt) is not None
    last = EventQueue(pending.stores, "last", 1.0, 3)
    [event] = last.runnable(now + 100)
    assert last.claim(event, now + 100) is None
    [failed] = pending.triggers.events("retrain")
    assert failed.state == "failed" and "abandoned after 3 attempts" in (failed.error or "")
    assert list_events(pending.stores.engine)[-1].action == "pipeline.abandon"


class Interrupted:
    """A launcher interrupted by Ctrl-C."""

    def launch(self, target: str, params: dict[str, Any], *, client: Any, key: str) -> Any:
        raise KeyboardInterrupt


class Slow:
    """A launcher that outlives a short lease while another controller takes over."""

    def __init__(self, thief: Controller) -> None:
        self.thief = thief

    def launch(self, target: str, params: dict[str, Any], *, client: Any, key: str) -> Any:
        time.sleep(0.3)  # the lease keeper renews meanwhile
        event = self.thief.queue.get(key)
        assert event.lease_expires_at is not None and event.lease_expires_at > time.time()
        # Another controller whose clock is far ahead takes the event over.
        self.thief.queue.claim(event, time.time() + 3600)
        time.sleep(0.3)
        return LaunchOutcome("succeeded")


def test_ctrl_c_releases_the_lease(pending: Client, controller: MakeController) -> None:
    with pytest.raises(KeyboardInterrupt):
        controller(launcher=Interrupted()).reconcile_once()
    [event] = pending.triggers.events("retrain")
    assert event.state == "running" and event.lease_expires_at == 0.0
    [done] = controller().reconcile_once().finished  # resumed at once, no lease to wait out
    assert (done.state, done.attempts) == ("succeeded", 2)


def test_a_lease_taken_over_is_not_recorded(pending: Client, controller: MakeController) -> None:
    thief = Controller(pending, owner="thief", launcher=FunctionLauncher(), lease_s=60.0)
    loop = controller(launcher=Slow(thief), lease_s=0.15)
    report = loop.reconcile_once()
    assert report.finished == [] and "lost its lease" in report.errors[0]
    [event] = pending.triggers.events("retrain")
    assert (event.state, event.owner) == ("running", "thief")
