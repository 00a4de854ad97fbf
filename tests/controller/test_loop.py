"""The controller's reconcile pass: launch, record, roll out, drive, stay idempotent."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from loopml.controller import Controller, FunctionLauncher
from loopml.errors import LoopmlError, PermissionDeniedError, ValidationError
from loopml.governance import list_events, verify_chain
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from loopml.store.schema import deployments
from tests.controller.conftest import PIPELINES, MakeController, frame
from tests.controller.helpers import FileRolloutDriver, lines


def _deployment(client: Client) -> None:
    """A deployment named `api` (rows only: the test driver never loads the model)."""
    now = time.time()
    with client.stores.engine.begin() as conn:
        conn.execute(
            deployments.insert().values(
                name="api",
                revision=1,
                routes=[],
                shadows=[],
                strategy="single",
                sticky_key=None,
                previous_routes=None,
                config={},
                created_by="test",
                created_at=now,
                updated_by="test",
                updated_at=now,
            )
        )


def test_a_new_version_launches_the_pipeline_once(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(calls), "data": "{trigger.dataset}", "epochs": 3},
    )
    loop = controller()
    assert loop.reconcile_once().idle
    bikes_v1.log_dataset("bikes", frame(2))
    report = loop.reconcile_once()
    [event] = report.finished
    assert (event.state, event.attempts) == ("succeeded", 1)
    assert event.outcome is not None and event.outcome["outputs"] == {"rows": 3, "rmse": 1.5}
    [call] = lines(calls)
    assert call["params"] == {"data": "dataset:bikes@2", "epochs": 3}
    assert call["trigger"]["kind"] == "dataset" and call["trigger"]["version"] == 2
    assert call["workspace"] == str(bikes_v1.settings.root)
    assert any("succeeded" in line for line in report.lines())
    assert loop.reconcile_once().idle  # the second pass does nothing new
    assert len(lines(calls)) == 1
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert actions[-3:] == ["trigger.fire", "pipeline.launch", "pipeline.finish"]
    assert verify_chain(bikes_v1.stores.engine).ok


def test_a_failing_pipeline_is_recorded_not_retried(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:broken", params={"log": str(calls)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    loop = controller()
    [event] = loop.reconcile_once().finished
    assert event.state == "failed"
    assert event.error == "RuntimeError: the training data has no rows"
    assert loop.reconcile_once().idle and len(lines(calls)) == 1


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("tests.controller.no_such_module:run", "cannot import 'tests.controller.no_such_module'"),
        (f"{PIPELINES}:missing", "has no attribute 'missing'"),
        (f"{PIPELINES}:WAIT_S", "not a pipeline or a function of your project"),
    ],
)
def test_a_target_that_cannot_be_called_is_refused_at_creation(
    bikes_v1: Client, target: str, error: str
) -> None:
    with pytest.raises(LoopmlError, match=re.escape(error)):
        bikes_v1.triggers.create("retrain", "dataset:bikes", target)
    assert bikes_v1.triggers.list() == []


def test_functions_get_only_the_arguments_they_declare(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:no_trigger_param", params={"log": str(calls)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    [event] = controller().reconcile_once().finished
    assert event.state == "succeeded" and lines(calls) == [{"called": True}]


def test_a_passed_candidate_is_rolled_out_once_and_driven_to_the_end(
    bikes_v1: Client, controller: MakeController, calls: Path, tmp_path: Path
) -> None:
    _deployment(bikes_v1)
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(calls), "model_version": "model:bikes/7"},
        rollout={"deployment": "api", "plan": {"steps": [10, 50, 100]}},
    )
    bikes_v1.log_dataset("bikes", frame(2))
    loop = controller()
    report = loop.reconcile_once()
    [event] = report.rollouts_started
    assert event.rollout_state == "started"
    assert event.rollout is not None and event.rollout["candidate"] == "model:bikes/7"
    assert [c.details["weight"] for c in report.rollouts] == [50]
    assert [c.state for c in loop.reconcile_once().rollouts] == ["promoted"]
    assert loop.reconcile_once().idle
    assert len(lines(tmp_path / "starts.log")) == 1
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert actions.count("rollout.start") == 1 and actions.count("rollout.drive") == 2


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "named no candidate"),
        ({"model_version": "model:bikes/7", "passed": False}, "did not pass"),
    ],
)
def test_no_rollout_without_a_passed_candidate(
    bikes_v1: Client,
    controller: MakeController,
    calls: Path,
    params: dict[str, object],
    reason: str,
) -> None:
    _deployment(bikes_v1)
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(calls), **params},
        rollout={"deployment": "api"},
    )
    bikes_v1.log_dataset("bikes", frame(2))
    [event] = controller().reconcile_once().finished
    assert event.state == "succeeded" and event.rollout_state == "skipped"
    assert event.rollout is not None and reason in event.rollout["reason"]


def test_an_alias_candidate_fails_the_event(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(calls), "model_version": "model:bikes@champion"},
    )
    bikes_v1.log_dataset("bikes", frame(2))
    [event] = controller().reconcile_once().finished
    assert event.state == "failed" and "is not a version" in (event.error or "")


def test_a_refused_rollout_start_is_recorded(bikes_v1: Client, calls: Path) -> None:
    """The real rollout service refuses an unknown candidate: the event says why."""
    _deployment(bikes_v1)
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(calls), "model_version": "model:bikes/7"},
        rollout={"deployment": "api"},
    )
    bikes_v1.log_dataset("bikes", frame(2))
    loop = Controller(bikes_v1, launcher=FunctionLauncher())  # the client's rollout service
    [event] = loop.reconcile_once().rollouts_started
    assert event.rollout_state == "failed" and event.rollout is not None
    assert "bikes" in event.rollout["error"]
    assert "rollout.fail" in [e.action for e in list_events(bikes_v1.stores.engine)]


def test_events_of_a_disabled_trigger_wait(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    triggers = bikes_v1.triggers
    triggers.create("retrain", "dataset:bikes", f"{PIPELINES}:record", params={"log": str(calls)})
    bikes_v1.log_dataset("bikes", frame(2))
    triggers.evaluate()
    triggers.disable("retrain")
    loop = controller()
    assert loop.reconcile_once().idle and lines(calls) == []
    triggers.enable("retrain")
    assert [e.state for e in loop.reconcile_once().finished] == ["succeeded"]


def test_alert_trigger_fires_once_per_drift_episode(
    client: Client, controller: MakeController, calls: Path
) -> None:
    bikes = load_bikeshare()
    columns = ["temp", "hum", "windspeed", "hr"]

    def month(*months: int, reverse: bool = False) -> pd.DataFrame:
        data = split_by_months(bikes, list(months))[columns]
        return data.iloc[::-1] if reverse else data

    client.log_dataset("monthly", month(1))
    client.monitors.create(
        "drift", "dataset:monthly", rules=["dataset_drift"], schedule="1m", resolve_after=1
    )
    client.triggers.create(
        "on-drift",
        "alert:drift:dataset_drift",
        f"{PIPELINES}:record",
        params={"log": str(calls), "alert": "{trigger.alert}"},
    )
    loop = controller()
    t0 = time.time()
    episode = [month(7), month(8), month(7, reverse=True)]  # drift in three windows in a row
    for i, data in enumerate(episode):
        client.log_dataset("monthly", data)
        loop.reconcile_once(now=t0 + 120 * i)
    assert len(client.monitors.alerts.list(monitor="drift")) == 1
    assert len(lines(calls)) == 1
    client.log_dataset("monthly", month(1, reverse=True))  # back to normal: resolved
    loop.reconcile_once(now=t0 + 600)
    assert client.monitors.alerts.list(monitor="drift", state="open") == []
    client.log_dataset("monthly", month(6))  # a new episode
    loop.reconcile_once(now=t0 + 720)
    alert_ids = [call["params"]["alert"] for call in lines(calls)]
    assert len(alert_ids) == 2 and len(set(alert_ids)) == 2
    assert sorted(alert_ids) == sorted(a.id for a in client.monitors.alerts.list(monitor="drift"))


def test_schedule_trigger_launches_through_the_controller(
    bikes_v1: Client, controller: MakeController, calls: Path
) -> None:
    created = bikes_v1.triggers.create(
        "nightly", "schedule:1d", f"{PIPELINES}:record", params={"log": str(calls)}
    )
    loop = controller()
    next_day = (created.created_at // 86400 + 1) * 86400
    assert len(loop.reconcile_once(now=next_day + 1).finished) == 1
    assert loop.reconcile_once(now=next_day + 2).idle
    assert lines(calls)[0]["trigger"]["slot_time"] == next_day


def test_run_forever_stops_when_asked(bikes_v1: Client, controller: MakeController) -> None:
    loop = controller()
    stop = threading.Event()
    reports = []

    def on_report(report: object) -> None:
        reports.append(report)
        stop.set()

    loop.run_forever(0.01, stop, on_report)
    assert len(reports) == 1
    with pytest.raises(ValidationError, match="interval"):
        loop.run_forever(0)


def test_bad_options_and_permissions(bikes_v1: Client) -> None:
    with pytest.raises(ValidationError, match="lease_s"):
        Controller(bikes_v1, lease_s=0)
    with pytest.raises(ValidationError, match="max_attempts"):
        Controller(bikes_v1, max_attempts=0)
    identity = bikes_v1.models.identity
    identity.create_principal("viewer", "viewer")
    bikes_v1.login(identity.create_token("viewer"))
    with pytest.raises(PermissionDeniedError):
        Controller(bikes_v1).reconcile_once()


def test_the_loop_on_every_backend(any_client: Client, calls: Path, tmp_path: Path) -> None:
    any_client.log_dataset("bikes", frame(1))
    any_client.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:record", params={"log": str(calls)}, cooldown=60
    )
    loop = Controller(any_client, launcher=FunctionLauncher(), rollouts=FileRolloutDriver(tmp_path))
    any_client.log_dataset("bikes", frame(2))
    any_client.log_dataset("bikes", frame(3))
    report = loop.reconcile_once()
    assert sorted(e.state for e in report.recorded) == ["pending", "skipped_cooldown"]
    assert [e.state for e in report.finished] == ["succeeded"]
    assert loop.reconcile_once().idle and len(lines(calls)) == 1
    assert verify_chain(any_client.stores.engine).ok
