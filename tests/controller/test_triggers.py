"""Triggers: declaration checks, dataset and schedule causes, cooldown, enable/disable."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from loopml.controller import TriggerService
from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, frame

PIPELINE = f"{PIPELINES}:record"


def test_create_get_list_and_audit(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    created = triggers.create(
        "retrain",
        "dataset:bikes",
        PIPELINE,
        params={"log": "calls.jsonl", "data": "{trigger.dataset}"},
        cooldown="1h",
    )
    assert created.kind == "dataset" and created.cooldown_s == 3600.0 and created.enabled
    assert str(created.source) == "dataset:bikes"
    assert triggers.get("retrain") == created
    assert [t.name for t in triggers.list()] == ["retrain"]
    assert created.to_dict()["on"] == "dataset:bikes"
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert actions[-1] == "trigger.create"


@pytest.mark.parametrize(
    ("on", "message"),
    [
        ("bikes", "use dataset:NAME"),
        ("weather:bikes", "unknown kind 'weather'"),
        ("dataset:", "dataset name"),
        ("schedule:soon", "not a duration"),
        ("schedule:0.5s", "whole number of seconds"),
        ("cron:* * *", "five fields"),
        ("cron:61 * * * *", "is invalid"),
        ("alert:", "monitor name"),
    ],
)
def test_bad_sources_are_refused(bikes_v1: Client, on: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        bikes_v1.triggers.create("t", on, PIPELINE)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"pipeline": "not a path"}, ValidationError, "pipeline name 'not a path' is invalid"),
        ({"pipeline": "a:b:c"}, ValidationError, "MODULE:ATTRIBUTE"),
        ({"pipeline": "unregistered"}, PermissionDeniedError, "is not registered"),
        ({"params": {"trigger": 1}}, ValidationError, "reserved"),
        ({"params": {"bad name": 1}}, ValidationError, "identifier"),
        ({"params": {"x": {1, 2}}}, ValidationError, "must be JSON"),
        ({"params": {"x": "{trigger.alert}"}}, ValidationError, "a dataset trigger does not"),
        ({"cooldown": "-5m"}, ValidationError, "not a duration"),
        ({"rollout": {"deployment": "api", "steps": [5]}}, ValidationError, "'deployment'"),
        ({"rollout": {"deployment": "api", "plan": {"speed": 1}}}, ValidationError, "unknown"),
        ({"rollout": {"deployment": "nowhere"}}, NotFoundError, "no deployment named"),
        ({"on": "dataset:unknown"}, NotFoundError, "has no versions yet"),
        ({"on": "alert:nobody"}, NotFoundError, "no monitor named"),
        ({"enabled": "yes"}, ValidationError, "True or False"),
    ],
)
def test_bad_declarations_are_refused(
    bikes_v1: Client, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"on": "dataset:bikes", "pipeline": PIPELINE, **kwargs}
    with pytest.raises(error, match=message):
        bikes_v1.triggers.create("t", arguments.pop("on"), arguments.pop("pipeline"), **arguments)
    assert bikes_v1.triggers.list() == []


def test_names_are_unique_and_unknown_names_say_so(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("t", "dataset:bikes", PIPELINE)
    with pytest.raises(ConflictError, match="already exists"):
        triggers.create("t", "schedule:1h", PIPELINE)
    with pytest.raises(NotFoundError, match="loopml trigger list"):
        triggers.get("nope")
    with pytest.raises(NotFoundError):
        triggers.disable("nope")
    with pytest.raises(ValidationError, match="event state"):
        triggers.events(state="done")
    with pytest.raises(NotFoundError, match="no trigger event"):
        triggers.event("tev-00000000")


def test_dataset_trigger_fires_once_per_version_after_its_creation(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", PIPELINE)
    assert triggers.evaluate() == []  # version 1 existed before the trigger
    v2 = bikes_v1.log_dataset("bikes", frame(2))
    v3 = bikes_v1.log_dataset("bikes", frame(3))
    bikes_v1.log_dataset("other", frame(9))
    events = triggers.evaluate()
    assert [e.cause for e in events] == [v2.id, v3.id]  # no cooldown: each fires, oldest first
    assert [e.state for e in events] == ["pending", "pending"]
    assert events[0].cause_info["dataset"] == "dataset:bikes@2"
    assert events[0].cause_info["event"] == events[0].id
    assert triggers.evaluate() == []
    assert len(triggers.events("retrain")) == 2


def test_cooldown_records_the_causes_it_skips(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", PIPELINE, cooldown="1h")
    t0 = time.time()
    # A burst: the newest version fires (a retraining should see the freshest data).
    bikes_v1.log_dataset("bikes", frame(2))
    v3 = bikes_v1.log_dataset("bikes", frame(3))
    burst = triggers.evaluate(now=t0)
    assert [(e.state, e.cause) for e in burst if e.state == "pending"] == [("pending", v3.id)]
    assert [e.state for e in burst].count("skipped_cooldown") == 1
    # More versions within the hour: recorded as skipped, not queued.
    for seed in (4, 5, 6):
        bikes_v1.log_dataset("bikes", frame(seed))
        [event] = triggers.evaluate(now=t0 + 60 * seed)
        assert event.state == "skipped_cooldown"
        assert "cooldown" in (event.error or "")
    # After the cooldown the next version fires again.
    v7 = bikes_v1.log_dataset("bikes", frame(7))
    [later] = triggers.evaluate(now=t0 + 3601)
    assert (later.state, later.cause) == ("pending", v7.id)
    states = [e.state for e in triggers.events("retrain")]
    assert states.count("pending") == 2 and states.count("skipped_cooldown") == 4
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert actions.count("trigger.fire") == 2 and actions.count("trigger.skip") == 4
    assert verify_chain(bikes_v1.stores.engine).ok


def _next_hour(t: float) -> float:
    return math.floor(t / 3600) * 3600 + 3600


def test_interval_schedule_fires_once_per_slot_and_catches_up_once(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    created = triggers.create("hourly", "schedule:1h", PIPELINE)
    assert str(created.source) == "schedule:1h"
    assert triggers.evaluate(now=created.created_at) == []  # no slot since creation
    slot = _next_hour(created.created_at)
    [first] = triggers.evaluate(now=slot + 5)
    assert first.cause_info["slot_time"] == slot
    assert first.cause.endswith(":00:00Z")
    assert triggers.evaluate(now=slot + 10) == []
    # The controller was down for five hours: one catch-up launch for the latest slot.
    [caught_up] = triggers.evaluate(now=slot + 5 * 3600 + 30)
    assert caught_up.cause_info["slot_time"] == slot + 5 * 3600
    assert len(triggers.events("hourly")) == 2


def test_cron_schedule(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    created = triggers.create("quarterly", "cron:'*/15 * * * *'", PIPELINE)
    assert str(created.source) == "cron:*/15 * * * *"
    base = math.floor(created.created_at / 900) * 900 + 900
    [event] = triggers.evaluate(now=base)  # exactly on the slot counts
    assert event.cause_info["slot_time"] == base
    assert triggers.evaluate(now=base + 899) == []
    [missed] = triggers.evaluate(now=base + 4 * 900 + 1)
    assert missed.cause_info["slot_time"] == base + 4 * 900


def test_disable_holds_and_enable_watches_from_now(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", PIPELINE)
    assert not triggers.disable("retrain").enabled
    bikes_v1.log_dataset("bikes", frame(2))
    assert triggers.evaluate() == []
    assert triggers.enable("retrain").enabled
    assert triggers.evaluate() == []  # the version logged while disabled does not fire
    v3 = bikes_v1.log_dataset("bikes", frame(3))
    assert [e.cause for e in triggers.evaluate()] == [v3.id]
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert "trigger.disable" in actions and "trigger.enable" in actions


def test_delete_removes_the_trigger_and_its_events(bikes_v1: Client) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", PIPELINE)
    bikes_v1.log_dataset("bikes", frame(2))
    triggers.evaluate()
    triggers.delete("retrain")
    assert triggers.list() == [] and triggers.events() == []
    with pytest.raises(NotFoundError):
        triggers.delete("retrain")
    assert list_events(bikes_v1.stores.engine)[-1].details == {"events": 1}


@pytest.mark.parametrize("backend", ["sqlite-local", "postgres-local"])
def test_concurrent_evaluations_record_each_cause_once(
    make_client: Callable[..., Client], backend: str
) -> None:
    first = make_client(backend)
    first.log_dataset("bikes", frame(1))
    first.triggers.create("retrain", "dataset:bikes", PIPELINE)
    for seed in (2, 3, 4):
        first.log_dataset("bikes", frame(seed))
    services = [TriggerService(make_client(backend).stores) for _ in range(4)]
    barrier = threading.Barrier(len(services))
    recorded: list[int] = []

    def evaluate(service: TriggerService) -> None:
        barrier.wait()
        recorded.append(len(service.evaluate()))

    threads = [threading.Thread(target=evaluate, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(recorded) == 3
    assert len(first.triggers.events("retrain")) == 3


def test_viewers_may_read_but_not_declare(bikes_v1: Client) -> None:
    bikes_v1.triggers.create("retrain", "dataset:bikes", PIPELINE)
    identity = bikes_v1.models.identity
    identity.create_principal("viewer", "viewer")
    token = identity.create_token("viewer")
    bikes_v1.login(token)
    assert [t.name for t in bikes_v1.triggers.list()] == ["retrain"]
    with pytest.raises(PermissionDeniedError):
        bikes_v1.triggers.create("other", "dataset:bikes", PIPELINE)
    with pytest.raises(PermissionDeniedError):
        bikes_v1.triggers.evaluate()
