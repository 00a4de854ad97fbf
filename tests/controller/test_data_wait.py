"""Alert triggers that wait for new data before they launch a retraining (bike-share data)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.governance import list_events, verify_chain
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, MakeController
from tests.controller.helpers import lines

COLUMNS = ["temp", "hum", "windspeed", "hr"]


def _months(*months: int) -> pd.DataFrame:
    frame: pd.DataFrame = split_by_months(load_bikeshare(), list(months))[COLUMNS]
    return frame


def _drifting_workspace(client: Client, calls: Path) -> None:
    """Training data (January to June), a drift monitor on the served traffic, and a trigger
    that retrains on drift but only once new training data exists."""
    client.log_dataset("bikes-train", _months(1, 2, 3, 4, 5, 6))
    client.log_dataset("traffic", _months(1))
    client.monitors.create("drift", "dataset:traffic", rules=["dataset_drift"], schedule="1m")
    client.triggers.create(
        "on-drift",
        "alert:drift:dataset_drift",
        f"{PIPELINES}:record",
        params={"log": str(calls), "data": "{trigger.new_data}"},
        requires_new_data="bikes-train",
    )


def test_an_alert_waits_for_a_new_training_version_then_launches_on_it(
    client: Client, controller: MakeController, calls: Path
) -> None:
    _drifting_workspace(client, calls)
    loop = controller()
    t0 = time.time()
    client.log_dataset("traffic", _months(7))  # summer traffic: the drift alert opens
    report = loop.reconcile_once(now=t0)
    assert len(client.monitors.alerts.list(monitor="drift", state="open")) == 1
    [event] = client.triggers.events("on-drift")
    # No new training data yet: nothing is launched, the event says what it waits for.
    assert event.state == "waiting_data" and report.finished == []
    assert event.cause_info["requires_new_data"] == "bikes-train"
    assert event.cause_info["data_after"] == 1
    assert lines(calls) == []
    assert loop.reconcile_once(now=t0 + 30).finished == []
    assert client.triggers.events("on-drift", state="waiting_data") != []
    # July's data is labelled and logged: the event launches, on that version.
    client.log_dataset("bikes-train", _months(1, 2, 3, 4, 5, 6, 7))
    [finished] = loop.reconcile_once(now=t0 + 60).finished
    assert finished.state == "succeeded"
    [call] = lines(calls)
    assert call["params"]["data"] == "dataset:bikes-train@2"
    assert call["trigger"]["new_data_version"] == 2
    actions = [e.action for e in list_events(client.stores.engine)]
    assert "trigger.data_arrived" in actions
    assert verify_chain(client.stores.engine).ok


def test_new_data_logged_before_the_alert_does_not_count(
    client: Client, controller: MakeController, calls: Path
) -> None:
    _drifting_workspace(client, calls)
    client.log_dataset("bikes-train", _months(1, 2, 3, 4, 5))  # v2, before the drift
    loop = controller()
    client.log_dataset("traffic", _months(8))
    loop.reconcile_once(now=time.time())
    [event] = client.triggers.events("on-drift")
    assert (event.state, event.cause_info["data_after"]) == ("waiting_data", 2)
    assert lines(calls) == []


def test_a_disabled_trigger_keeps_its_event_waiting(
    client: Client, controller: MakeController, calls: Path
) -> None:
    _drifting_workspace(client, calls)
    loop = controller()
    client.log_dataset("traffic", _months(7))
    loop.reconcile_once(now=time.time())
    client.triggers.disable("on-drift")
    client.log_dataset("bikes-train", _months(1, 2, 3, 4, 5, 6, 7))
    assert loop.reconcile_once(now=time.time()).finished == []
    client.triggers.enable("on-drift")
    assert [e.state for e in loop.reconcile_once(now=time.time()).finished] == ["succeeded"]


def test_requires_new_data_is_checked_when_declared(client: Client) -> None:
    client.log_dataset("bikes", _months(1))
    with pytest.raises(ValidationError, match="fires on a new dataset version already"):
        client.triggers.create(
            "t", "dataset:bikes", f"{PIPELINES}:record", requires_new_data="bikes"
        )
    with pytest.raises(ValidationError, match="dataset name"):
        client.triggers.create("t", "schedule:1h", f"{PIPELINES}:record", requires_new_data="")
    with pytest.raises(ValidationError, match="a schedule trigger does not"):
        client.triggers.create(
            "t", "schedule:1h", f"{PIPELINES}:record", params={"d": "{trigger.new_data}"}
        )
    waiting = client.triggers.create(
        "t",
        "schedule:1h",
        f"{PIPELINES}:record",
        params={"d": "{trigger.new_data}"},
        requires_new_data="bikes",
    )
    assert waiting.to_dict()["requires_new_data"] == "bikes"
    assert client.triggers.get("t").source.requires_new_data == "bikes"
