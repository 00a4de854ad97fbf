"""Retrying trigger events: a failed retraining can run again, and the cooldown lets it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError
from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, MakeController, frame
from tests.controller.helpers import lines


def test_a_failed_event_is_retried_within_the_cooldown(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    outage = Path(f"{calls}.down")
    outage.write_text("down")
    triggers = bikes_v1.triggers
    triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:needs_source", params={"log": str(calls)},
        cooldown="6h",
    )  # fmt: skip
    loop = controller()
    bikes_v1.log_dataset("bikes", frame(2))
    [failed] = loop.reconcile_once().finished
    assert failed.state == "failed" and "source is down" in (failed.error or "")
    assert loop.reconcile_once().idle  # a failed event is not retried on its own
    # The source is back: the retry runs now, although the cooldown has six hours to go.
    outage.unlink()
    retried = triggers.retry(failed.id)
    assert (retried.state, retried.attempts, retried.error) == ("pending", 0, None)
    [done] = loop.reconcile_once().finished
    assert (done.id, done.state, done.attempts) == (failed.id, "succeeded", 1)
    assert lines(calls)[0]["trigger"]["cause"] == failed.cause
    retry_audit = [e for e in list_events(bikes_v1.stores.engine) if e.action == "trigger.retry"]
    assert retry_audit[0].details["was"] == "failed"
    assert "source is down" in retry_audit[0].details["error"]
    assert verify_chain(bikes_v1.stores.engine).ok


def test_a_failed_fire_does_not_hold_back_the_next_cause(
    bikes_v1: Client, controller: MakeController, tmp_path: Path
) -> None:
    triggers = bikes_v1.triggers
    triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:broken",
        params={"log": str(tmp_path / "b.jsonl")}, cooldown="6h",
    )  # fmt: skip
    loop = controller()
    t0 = time.time()
    bikes_v1.log_dataset("bikes", frame(2))
    assert [e.state for e in loop.reconcile_once(now=t0).finished] == ["failed"]
    bikes_v1.log_dataset("bikes", frame(3))  # new data an hour later: it fires
    [event] = triggers.evaluate(now=t0 + 3600)
    assert event.state == "pending"


def test_a_skipped_event_can_be_retried(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", f"{PIPELINES}:record", cooldown="1h")
    bikes_v1.log_dataset("bikes", frame(2))
    bikes_v1.log_dataset("bikes", frame(3))
    skipped = [e for e in triggers.evaluate() if e.state == "skipped_cooldown"]
    assert len(skipped) == 1
    assert triggers.retry(skipped[0].id).state == "pending"


def test_only_finished_events_can_be_retried(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", f"{PIPELINES}:record")
    bikes_v1.log_dataset("bikes", frame(2))
    [pending] = triggers.evaluate()
    with pytest.raises(ConflictError, match="is pending; only failed or skipped_cooldown"):
        triggers.retry(pending.id)
    with pytest.raises(NotFoundError, match="loopml trigger events"):
        triggers.retry("tev-nope")
    identity = bikes_v1.models.identity
    identity.create_principal("viewer", "viewer")
    bikes_v1.login(identity.create_token("viewer"))
    with pytest.raises(PermissionDeniedError):
        triggers.retry(pending.id)
