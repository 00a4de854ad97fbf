"""A cached step that builds a training set recomputes when a view's source gets a new
version or a definition it used changes, and links the training set to its run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.features import Entity, Feature, FeatureService, FeatureView
from loopml.features.reads import DefinitionRead, recording_definitions
from loopml.pipelines import PipelineFailedError
from loopml.pipelines.cache import StepCache
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.pipelines import feature_pipelines as fp


def _executed(marker_dir: Path) -> list[str]:
    path = marker_dir / "executed"
    return path.read_text().split() if path.exists() else []


def definitions(expression: str = "bikers") -> list[object]:
    slot = Entity("hour_of_week", ["weekday", "hr"])
    view = FeatureView(
        "weekly_demand",
        slot,
        "dataset:bikes",
        [Feature("bikers_last_week", "float64", expression)],
        timestamp_column="timestamp",
    )
    return [slot, view, FeatureService("demand", ["weekly_demand:bikers_last_week"])]


@pytest.fixture
def workspace(client: Client) -> Client:
    bikes = load_bikeshare()
    client.log_dataset("bikes", split_by_months(bikes, [1]), time_column="timestamp")
    march = split_by_months(bikes, [3])
    client.log_dataset(
        "forecasts",
        march[["weekday", "hr", "timestamp"]].assign(
            event_timestamp=march["timestamp"] - pd.Timedelta(hours=1)
        ),
        time_column="event_timestamp",
    )
    client.features.apply(definitions())
    return client


def test_selection_notes_the_definition_versions_it_resolves(workspace: Client) -> None:
    with recording_definitions() as reads:
        workspace.features.select("demand")
    assert reads == [
        DefinitionRead("service", "demand", 1),
        DefinitionRead("view", "weekly_demand", 1),
    ]


def test_a_new_source_version_recomputes_the_training_set_step(
    workspace: Client, tmp_path: Path
) -> None:
    args = {"service": "demand", "entities": "dataset:forecasts@1", "marker_dir": str(tmp_path)}
    first = fp.demand_training.run(workspace, **args)
    # January only: each March hour takes the latest January value of its slot (no TTL);
    # only slots January never saw (gaps in the data) are missing
    forecasts = workspace.load_dataset("forecasts")
    january = workspace.load_dataset("bikes@1")
    seen = set(zip(january["weekday"], january["hr"], strict=True))
    unseen = sum(
        slot not in seen for slot in zip(forecasts["weekday"], forecasts["hr"], strict=True)
    )
    assert first.output["rows"] == len(forecasts) and first.output["missing"] == unseen
    again = fp.demand_training.run(workspace, **args)
    assert again.output == first.output and _executed(tmp_path) == ["build"]

    workspace.log_dataset(
        "bikes", split_by_months(load_bikeshare(), [1, 2, 3]), time_column="timestamp"
    )
    fresh = fp.demand_training.run(workspace, **args)
    assert _executed(tmp_path) == ["build", "build"]
    assert fresh.output["mean"] != first.output["mean"]  # March reads March's own weeks now
    assert fresh.output["training_set"] == "dataset:demand-training@2"
    step_run = workspace.get_run(fresh.steps["build"].run_id)
    inputs = {i["dataset"]: i["role"] for i in step_run.inputs}
    assert inputs["dataset:demand-training@2"] == "training"
    assert "dataset:bikes@2" in inputs and "dataset:forecasts@1" in inputs
    entry = StepCache(workspace.stores).lookup(fresh.steps["build"].cache_key)
    assert entry is not None
    assert {d.name for d in entry.definitions} == {"demand", "weekly_demand"}
    assert "dataset:bikes@2" in [r.uri for r in entry.reads]


def test_a_changed_view_definition_recomputes_the_training_set_step(
    workspace: Client, tmp_path: Path
) -> None:
    args = {"service": "demand", "entities": "dataset:forecasts@1", "marker_dir": str(tmp_path)}
    first = fp.demand_training.run(workspace, **args)
    workspace.features.apply(definitions("bikers / 2.0"))  # same data, other values
    changed = fp.demand_training.run(workspace, **args)
    assert _executed(tmp_path) == ["build", "build"]
    assert changed.output["mean"] == pytest.approx(first.output["mean"] / 2)
    fp.demand_training.run(workspace, **args)
    assert _executed(tmp_path) == ["build", "build"]  # cached again under the new version


def test_a_step_on_an_unknown_service_fails_with_the_reason(
    workspace: Client, tmp_path: Path
) -> None:
    with pytest.raises(PipelineFailedError, match="no feature service 'nope'") as failed:
        fp.demand_training.run(
            workspace, service="nope", entities="dataset:forecasts@1", marker_dir=str(tmp_path)
        )
    assert failed.value.result.status == "FAILED"
    assert [v.name for v in workspace.datasets.list()] == ["bikes", "forecasts"]
