"""Monitors on a feature view: drift of its rows by windows of event time, and the freshness
of its online values (SQLite and Redis online stores), on real data."""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vega_datasets import data as vega

from loopml.controller import Controller, FunctionLauncher
from loopml.errors import NotFoundError, ValidationError
from loopml.features import Entity, Feature, FeatureService, FeatureView
from loopml.features.online.redis import RedisOnlineStore
from loopml.monitoring.records import MonitorRun
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.features.conftest import redis_server  # noqa: F401  (a fixture)

DAY = 86400.0


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def weekly_demand(source: str = "dataset:bikes", online: bool = True) -> list[object]:
    slot = Entity("hour_of_week", ["weekday", "hr"])
    view = FeatureView(
        "weekly_demand",
        slot,
        source,
        [
            Feature("bikers_last_week", "float64", "bikers"),
            Feature("temp_last_week", "float64", "temp"),
            Feature("weather_last_week", "string", "weathersit"),
        ],
        timestamp_column="timestamp",
        online=online,
    )
    return [slot, view, FeatureService("demand", ["weekly_demand:*"])]


@pytest.fixture
def winter(client: Client, bikes: pd.DataFrame) -> Client:
    """`client` with bikes@1 (January to March) and the weekly-demand view applied."""
    client.log_dataset("bikes", split_by_months(bikes, [1, 2, 3]), time_column="timestamp")
    client.features.apply(weekly_demand())
    return client


@pytest.fixture(params=["sqlite", "redis"])
def online(request: pytest.FixtureRequest, winter: Client) -> Iterator[Client]:
    """`winter` materializing into SQLite, or into a real Redis under a fresh namespace."""
    if request.param == "sqlite":
        yield winter
        return
    url = request.getfixturevalue("redis_server")
    store = RedisOnlineStore(url, "t" + uuid.uuid4().hex[:10])
    winter.features._online = store
    yield winter
    for key in store.client.scan_iter(match=f"{store.namespace}:*"):
        store.client.delete(key)


def drift_runs(runs: list[MonitorRun]) -> list[MonitorRun]:
    return [r for r in runs if r.result.window.drift is not None]


def freshness_of(runs: list[MonitorRun]) -> MonitorRun:
    [checked] = [r for r in runs if r.result.status == "freshness"]
    return checked


def test_new_versions_of_the_source_are_windows_of_its_features(
    winter: Client, bikes: pd.DataFrame
) -> None:
    monitors = winter.monitors
    monitor = monitors.create(
        "demand-features", feature_view="weekly_demand", window="28d", rules=["dataset_drift"]
    )
    assert str(monitor.source) == "feature_view:weekly_demand"
    assert monitor.reference == "dataset:bikes@1"  # the source's version when declared
    march_end = pd.Timestamp("2011-03-31 23:00", tz="UTC").timestamp()
    assert monitor.config.reference_end == math.nextafter(march_end, math.inf)
    assert drift_runs(monitors.run("demand-features")) == []  # nothing after the reference yet

    summer = split_by_months(bikes, range(1, 8))
    winter.log_dataset("bikes", summer, time_column="timestamp")
    runs = drift_runs(monitors.run("demand-features"))
    assert len(runs) == 4  # complete 28-day windows from April to July
    spans = [(r.result.window.start, r.result.window.end) for r in runs]
    assert spans[0][0] == monitor.config.reference_end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no gaps
    stamps = summer["timestamp"].dt.tz_localize("UTC").map(pd.Timestamp.timestamp)
    for run in runs:
        window = run.result.window
        assert window.rows == int(((stamps >= window.start) & (stamps < window.end)).sum())
        drift = window.drift
        assert drift is not None
        assert [c.column for c in drift.columns] == [
            "bikers_last_week",
            "temp_last_week",
            "weather_last_week",
        ]
        assert drift.column("weather_last_week").kind == "categorical"
    # summer is warmer and busier than winter: the features drift and an alert opens
    assert all(r.result.window.drift.column("temp_last_week").drift for r in runs)  # type: ignore[union-attr]
    assert [a.rule for a in runs[0].alerts.opened] == ["dataset_drift"]
    assert monitors.get("demand-features").cursor == spans[-1][1]
    # the next run has no new complete window; `partial` evaluates the open one
    assert drift_runs(monitors.run("demand-features")) == []
    [partial] = drift_runs(monitors.run("demand-features", partial=True))
    assert partial.result.window.end == pytest.approx(stamps.max(), abs=1e-3)


def test_the_reference_may_be_another_version_read_through_the_view(
    winter: Client, bikes: pd.DataFrame
) -> None:
    winter.log_dataset("bikes", split_by_months(bikes, range(1, 7)), time_column="timestamp")
    monitor = winter.monitors.create(
        "m", "feature_view:weekly_demand", reference="bikes@1", window="14d"
    )
    assert monitor.reference == "dataset:bikes@1"
    runs = drift_runs(winter.monitors.run("m"))
    assert len(runs) == 6 and runs[0].result.window.start == monitor.config.reference_end
    assert winter.monitors.evaluator.reference_uri(monitor) == "dataset:bikes@1"


def test_freshness_alerts_open_when_materialization_lags_and_resolve_after_it(
    online: Client, bikes: pd.DataFrame
) -> None:
    client = online
    monitors = client.monitors
    monitors.create(
        "fresh", feature_view="weekly_demand", window="28d", max_behind="1h", max_age="1d"
    )
    now = time.time()
    [never] = [r for r in monitors.run("fresh", now=now) if r.result.status == "freshness"]
    assert sorted(a.rule for a in never.alerts.opened) == [
        "freshness_above:age:1d",
        "freshness_above:behind:1h",
    ]
    assert "never" in never.alerts.opened[0].message or "no successful" in (
        never.alerts.opened[0].message
    )
    [run] = client.features.materialize(["weekly_demand"])
    assert run.entities == 168  # one row per hour of the week
    checked = freshness_of(monitors.run("fresh", now=now + 60))
    fresh = checked.result.window.freshness
    assert fresh is not None and fresh.behind_s == 0.0 and fresh.age_s is not None
    assert fresh.materialized_from == "dataset:bikes@1"
    assert checked.alerts.resolved == [] and len(checked.alerts.clearing) == 2  # resolve_after=2
    resolved = freshness_of(monitors.run("fresh", now=now + 120)).alerts.resolved
    assert sorted(a.rule for a in resolved) == [
        "freshness_above:age:1d",
        "freshness_above:behind:1h",
    ]

    # April arrives in the source, the online values stay at March: behind by 30 days
    client.log_dataset("bikes", split_by_months(bikes, range(1, 5)), time_column="timestamp")
    lagging = freshness_of(monitors.run("fresh", now=now + 180))
    [opened] = lagging.alerts.opened
    assert opened.rule == "freshness_above:behind:1h" and opened.subject == "weekly_demand"
    assert opened.value == pytest.approx(30 * DAY, abs=DAY)
    assert "newer than the online values" in opened.message
    window = lagging.result.window.freshness
    assert window is not None and window.source_now == "dataset:bikes@2"
    client.features.materialize(["weekly_demand"])
    for offset in (240, 300):
        last = freshness_of(monitors.run("fresh", now=now + offset))
    assert [a.rule for a in last.alerts.resolved] == ["freshness_above:behind:1h"]
    # a day later without a materialization: the age rule fires
    stale = freshness_of(monitors.run("fresh", now=now + 2 * DAY))
    assert [a.rule for a in stale.alerts.opened] == ["freshness_above:age:1d"]
    assert client.monitors.alerts.list(monitor="fresh", state="open")[0].rule == (
        "freshness_above:age:1d"
    )
    report = monitors.report("fresh")  # the freshness check, in the HTML report
    assert '<section id="freshness">' in report and "dataset:bikes@2" in report


def test_the_controller_runs_a_scheduled_view_monitor(winter: Client, bikes: pd.DataFrame) -> None:
    winter.monitors.create(
        "scheduled", feature_view="weekly_demand", window="28d", schedule="1h", max_behind="0"
    )
    winter.features.materialize(["weekly_demand"])
    winter.log_dataset("bikes", split_by_months(bikes, range(1, 6)), time_column="timestamp")
    controller = Controller(winter, launcher=FunctionLauncher())
    report = controller.reconcile_once(time.time() + 1)
    assert report.monitors == {"scheduled": 3}  # two 28-day windows and a freshness check
    [alert] = winter.monitors.alerts.list(monitor="scheduled", state="open")
    assert alert.rule == "freshness_above:behind:0s"
    assert controller.reconcile_once(time.time() + 2).monitors == {}  # not due again yet


def test_a_view_over_parquet_files_windows_its_rows(client: Client, tmp_path: Path) -> None:
    """Seattle weather (strings, seasons, some readings missing) as Parquet files."""
    weather = vega.seattle_weather()
    weather["station"] = "SEA"
    weather["date"] = pd.to_datetime(weather["date"], utc=True)
    rng = np.random.default_rng(1)
    weather.loc[rng.random(len(weather)) < 0.1, "wind"] = np.nan
    folder = tmp_path / "weather"
    folder.mkdir()
    first, later = weather[weather["date"].dt.year == 2012], weather[weather["date"].dt.year > 2012]
    first.to_parquet(folder / "2012.parquet")
    station = Entity("station", ["station"])
    view = FeatureView(
        "daily_weather",
        station,
        str(folder),
        {"temp_max": "float64", "wind": "float64", "weather": "string"},
        timestamp_column="date",
    )
    client.features.apply([station, view])
    monitors = client.monitors
    for seasonal in (None, "month"):
        monitor = monitors.create(
            f"weather-{seasonal}",
            feature_view="daily_weather",
            window="91d",
            calibrate="fixed",
            seasonal=seasonal,
            tests={"temp_max": "wasserstein"},
        )
    assert monitor.reference is None  # files: the reference is their rows up to now
    assert "up to 2012-12-31" in str(monitors.evaluator.reference_uri(monitor))
    later.to_parquet(folder / "2013-2015.parquet")
    distances = {}
    for seasonal in (None, "month"):
        runs = drift_runs(monitors.run(f"weather-{seasonal}"))
        assert len(runs) == 12  # three years of 91-day windows
        wind = [r.result.window.drift.column("wind") for r in runs]  # type: ignore[union-attr]
        assert all(c.drift is not None for c in wind)
        end = pd.Timestamp(runs[-1].result.window.end, unit="s", tz="UTC")
        assert sum(c.current_nulls for c in wind) == int(
            later.loc[later["date"] < end, "wind"].isna().sum()
        )
        weather_kind = {r.result.window.drift.column("weather").kind for r in runs}  # type: ignore[union-attr]
        assert weather_kind == {"categorical"}
        distances[seasonal] = np.mean(
            [r.result.window.drift.column("temp_max").statistic for r in runs]  # type: ignore[union-attr]
        )
    # a quarter is one season: compared with the same months of 2012 it is much closer
    assert distances["month"] < 0.7 * distances[None]


def test_unknown_views_and_options_that_do_not_fit_are_refused(
    winter: Client, tmp_path: Path
) -> None:
    monitors = winter.monitors
    with pytest.raises(NotFoundError, match="no feature view 'nope'"):
        monitors.create("m", feature_view="nope")
    with pytest.raises(ValidationError, match="not features of view"):
        monitors.create("m", feature_view="weekly_demand", columns=["bikers"])
    with pytest.raises(ValidationError, match="needs predictions"):
        monitors.create("m", feature_view="weekly_demand", rules=["metric_below:r2:0.5"])
    with pytest.raises(ValidationError, match="declare the monitor on feature_view"):
        monitors.create("m", "dataset:bikes", max_lag="1h")
    with pytest.raises(ValidationError, match="not both"):
        monitors.create("m", "dataset:bikes", feature_view="weekly_demand")
    with pytest.raises(ValidationError, match="not a duration"):
        monitors.create("m", feature_view="weekly_demand", max_lag="soon")
    with pytest.raises(ValidationError, match="needs a source"):
        monitors.create("m")
    winter.features.apply(weekly_demand(online=False))
    with pytest.raises(ValidationError, match="offline only"):
        monitors.create("m", feature_view="weekly_demand", max_age="1h")
    empty = tmp_path / "empty.parquet"
    pd.DataFrame(
        {
            "weekday": pd.Series([], dtype="int64"),
            "hr": pd.Series([], dtype="int64"),
            "timestamp": pd.Series([], dtype="datetime64[ns]"),
            "bikers": pd.Series([], dtype="int64"),
            "temp": pd.Series([], dtype="float64"),
            "weathersit": pd.Series([], dtype="str"),
        }
    ).to_parquet(empty)
    winter.features.apply(weekly_demand(source=str(empty)))
    with pytest.raises(ValidationError, match="has no rows"):
        monitors.create("m", feature_view="weekly_demand")
    assert monitors.list() == []


def test_a_feature_expression_failing_on_new_rows_is_a_clear_error(
    winter: Client, bikes: pd.DataFrame
) -> None:
    slot = Entity("hour_of_week", ["weekday", "hr"])
    broken = FeatureView(
        "weather_code",
        slot,
        "dataset:bikes",
        [Feature("code", "float64", "CAST(weathersit AS DOUBLE)")],  # the values are words
        timestamp_column="timestamp",
    )
    winter.features.apply([slot, broken])
    winter.monitors.create("codes", feature_view="weather_code", window="28d")
    winter.log_dataset("bikes", split_by_months(bikes, range(1, 7)), time_column="timestamp")
    with pytest.raises(ValidationError, match="cannot read feature view 'weather_code'"):
        winter.monitors.run("codes")
    assert winter.monitors.results("codes") == []  # nothing half-recorded
