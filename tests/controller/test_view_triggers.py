"""Triggers on a feature view: a new version of the dataset the view reads fires them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.features import Entity, FeatureView
from loopml.governance import list_events
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, MakeController
from tests.controller.helpers import lines

PIPELINE = f"{PIPELINES}:record"


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def hourly(source: str) -> list[object]:
    slot = Entity("hour_of_week", ["weekday", "hr"])
    view = FeatureView(
        "weekly_demand", slot, source, {"bikers": "float64"}, timestamp_column="timestamp"
    )
    return [slot, view]


@pytest.fixture
def viewed(client: Client, bikes: pd.DataFrame) -> Client:
    client.log_dataset("bikes", split_by_months(bikes, [1]), time_column="timestamp")
    client.features.apply(hourly("dataset:bikes"))
    return client


def test_a_new_source_version_fires_with_the_view_and_version(
    viewed: Client, bikes: pd.DataFrame, controller: MakeController, calls: Path
) -> None:
    trigger = viewed.triggers.create(
        "refresh",
        "feature_view:weekly_demand",
        PIPELINE,
        params={"log": str(calls), "data": "{trigger.dataset}", "view": "{trigger.feature_view}"},
    )
    assert trigger.kind == "feature_view" and trigger.source.dataset == "bikes"
    assert trigger.to_dict()["on"] == "feature_view:weekly_demand"
    assert viewed.triggers.evaluate() == []  # bikes@1 existed before the trigger
    two = viewed.log_dataset("bikes", split_by_months(bikes, [1, 2]), time_column="timestamp")
    [event] = viewed.triggers.evaluate()
    assert event.cause == two.id
    info = event.cause_info
    assert info["kind"] == "feature_view" and info["feature_view"] == "weekly_demand"
    assert info["dataset"] == "dataset:bikes@2" and info["version"] == 2
    report = controller().reconcile_once()
    assert [e.state for e in report.finished] == ["succeeded"]
    [call] = lines(calls)
    assert call["params"] == {"data": "dataset:bikes@2", "view": "weekly_demand"}
    assert viewed.triggers.evaluate() == []  # seen once


def test_a_view_redefined_onto_another_dataset_retargets_the_trigger(
    viewed: Client, bikes: pd.DataFrame
) -> None:
    viewed.triggers.create("refresh", "feature_view:weekly_demand", PIPELINE)
    viewed.log_dataset("hours", split_by_months(bikes, [1]), time_column="timestamp")
    latest = viewed.log_dataset("hours", split_by_months(bikes, [2]), time_column="timestamp")
    viewed.features.apply(hourly("dataset:hours"))
    [event] = viewed.triggers.evaluate()  # the view's data changed: its newest version
    assert event.cause == latest.id and event.cause_info["dataset_name"] == "hours"
    assert viewed.triggers.get("refresh").source.dataset == "hours"
    retarget = [e for e in list_events(viewed.stores.engine) if e.action == "trigger.retarget"]
    assert retarget[-1].details == {
        "feature_view": "weekly_demand",
        "from": "bikes",
        "to": "hours",
    }
    viewed.log_dataset("bikes", split_by_months(bikes, [3]), time_column="timestamp")
    assert viewed.triggers.evaluate() == []  # the old dataset no longer matters
    three = viewed.log_dataset("hours", split_by_months(bikes, [3]), time_column="timestamp")
    assert [e.cause for e in viewed.triggers.evaluate()] == [three.id]


def test_views_that_cannot_be_followed_are_refused_clearly(
    viewed: Client, tmp_path: Path, bikes: pd.DataFrame
) -> None:
    triggers = viewed.triggers
    with pytest.raises(NotFoundError, match="no feature view 'nope'"):
        triggers.create("t", "feature_view:nope", PIPELINE)
    with pytest.raises(ValidationError, match="feature view name"):
        triggers.create("t", "feature_view:", PIPELINE)
    path = tmp_path / "hours.parquet"
    split_by_months(bikes, [1]).to_parquet(path)
    viewed.features.apply(hourly(str(path)))
    with pytest.raises(ValidationError, match=r"reads Parquet files .* no versions to watch"):
        triggers.create("t", "feature_view:weekly_demand", PIPELINE)
    viewed.features.apply(hourly("dataset:bikes@1"))
    with pytest.raises(ValidationError, match="pins dataset:bikes@1"):
        triggers.create("t", "feature_view:weekly_demand", PIPELINE)
    with pytest.raises(ValidationError, match="requires_new_data is for alert and schedule"):
        triggers.create("t", "feature_view:weekly_demand", PIPELINE, requires_new_data="bikes")
    with pytest.raises(ValidationError, match="a feature_view trigger does not have"):
        viewed.features.apply(hourly("dataset:bikes"))
        triggers.create("t", "feature_view:weekly_demand", PIPELINE, params={"x": "{trigger.slot}"})
    assert triggers.list() == []


def test_a_view_moved_to_files_stops_firing_without_breaking_evaluation(
    viewed: Client, tmp_path: Path, bikes: pd.DataFrame
) -> None:
    viewed.triggers.create("refresh", "feature_view:weekly_demand", PIPELINE)
    viewed.triggers.create("plain", "dataset:bikes", PIPELINE)
    path = tmp_path / "hours.parquet"
    split_by_months(bikes, [1]).to_parquet(path)
    viewed.features.apply(hourly(str(path)))
    viewed.log_dataset("bikes", split_by_months(bikes, [2]), time_column="timestamp")
    assert [e.trigger for e in viewed.triggers.evaluate()] == ["plain"]
