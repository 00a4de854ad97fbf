"""`loopml monitor create --feature-view` and `loopml trigger create … feature_view:VIEW`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.features import Entity, Feature, FeatureView
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.cli.helpers import Invoke, user_error

PIPELINE = "tests.controller.helpers:record"


@pytest.fixture
def viewed(client: Client) -> Client:
    bikes = load_bikeshare()
    client.log_dataset("bikes", split_by_months(bikes, [1, 2]), time_column="timestamp")
    slot = Entity("hour_of_week", ["weekday", "hr"])
    view = FeatureView(
        "weekly_demand",
        slot,
        "dataset:bikes",
        [Feature("bikers_last_week", "float64", "bikers")],
        timestamp_column="timestamp",
    )
    client.features.apply([slot, view])
    return client


def test_a_view_monitor_reports_drift_windows_and_freshness(cli: Invoke, viewed: Client) -> None:
    created = cli(
        "monitor", "create", "demand", "--feature-view", "weekly_demand", "--window", "14d",
        "--alert", "dataset_drift", "--max-behind", "1h", "--calibrate", "fixed",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "on feature_view:weekly_demand" in created.stdout
    assert "dataset:bikes@1 (through the view)" in created.stdout
    assert "freshness_above:behind:1h" in created.stdout
    first = cli("monitor", "run", "demand")
    assert first.exit_code == 0, first.output
    assert "never materialized" in first.stdout and "1 opened" in first.stdout
    viewed.features.materialize(["weekly_demand"])
    viewed.log_dataset(
        "bikes", split_by_months(load_bikeshare(), [1, 2, 3, 4]), time_column="timestamp"
    )
    ran = json.loads(cli("monitor", "run", "demand", "--json").stdout)["demand"]
    assert [r["status"] for r in ran][-1] == "freshness"
    assert len([r for r in ran if r["status"] != "freshness"]) == 5  # 14-day windows, Mar-Apr
    fresh = ran[-1]["freshness"]
    assert fresh["materialized_from"] == "dataset:bikes@1" and fresh["behind_s"] > 0
    shown = cli("monitor", "show", "demand")
    assert shown.exit_code == 0, shown.output
    assert "freshness: weekly_demand: behind" in shown.stdout
    assert "(source now dataset:bikes@2)" in shown.stdout
    alerts = json.loads(cli("monitor", "alerts", "demand", "--json").stdout)
    assert {a["rule"] for a in alerts} == {"freshness_above:behind:1h", "dataset_drift"}


def test_mistakes_are_one_line_errors(cli: Invoke, viewed: Client) -> None:
    assert "no feature view 'nope'" in user_error(
        cli("monitor", "create", "m", "--feature-view", "nope")
    )
    assert "not a duration" in user_error(
        cli("monitor", "create", "m", "--feature-view", "weekly_demand", "--max-lag", "later")
    )
    assert "needs a source" in user_error(cli("monitor", "create", "m"))
    assert "no feature view 'nope'" in user_error(
        cli("trigger", "create", "t", "feature_view:nope", "--pipeline", PIPELINE)
    )


def test_a_trigger_on_a_view_fires_on_its_source(
    cli: Invoke, viewed: Client, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.jsonl"
    created = cli(
        "trigger", "create", "refresh", "feature_view:weekly_demand", "--pipeline", PIPELINE,
        "--param", f"log={calls}", "--param", "data={trigger.dataset}",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "on feature_view:weekly_demand" in created.stdout
    viewed.log_dataset("bikes", split_by_months(load_bikeshare(), [3]), time_column="timestamp")
    ran = cli("controller", "--once")
    assert ran.exit_code == 0, ran.output
    assert "trigger refresh fired" in ran.stdout and "succeeded" in ran.stdout
    assert json.loads(calls.read_text())["params"] == {"data": "dataset:bikes@2"}
