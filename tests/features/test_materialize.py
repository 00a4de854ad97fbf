from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.features import Entity, FeatureStore, FeatureView
from tests.features.conftest import T0, rides, station_definitions

HOUR = 3600.0
NOW = T0.timestamp() + 10 * HOUR


def _check_latest(store: FeatureStore) -> None:
    runs = store.materialize(end=NOW)
    assert [(r.view, r.status, r.entities, r.mode) for r in runs] == [
        ("station_stats", "done", 2, "full")
    ]
    assert runs[0].watermark == T0.timestamp() + 5 * HOUR
    got = store.get_online_features([{"station": 2}, {"station": 1}, {"station": 7}], "demand")
    assert got == {
        "station": [2, 1, 7],
        "rides": [7.0, 30.0, None],
        "docks": [7, 5, None],
    }


def test_full_materialization_serves_the_latest_value_per_entity(
    store: FeatureStore, tmp_path: Path
) -> None:
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    _check_latest(store)


@pytest.mark.redis
def test_the_same_on_redis(make_redis_store: Callable[[], FeatureStore], tmp_path: Path) -> None:
    store = make_redis_store()
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    _check_latest(store)


def test_incremental_runs_take_only_newer_rows_and_freshness_is_recorded(
    store: FeatureStore, tmp_path: Path
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    first = pd.DataFrame(
        {"station": [1, 2], "event_timestamp": [T0, T0], "rides": [1.0, 2.0], "docks": [1, 2]}
    )
    first.to_parquet(folder / "a.parquet")
    store.apply(station_definitions(str(folder)))  # type: ignore[arg-type]
    store.materialize(end=NOW)
    later = pd.DataFrame(
        {
            "station": [1, 2],
            "event_timestamp": [T0 + pd.Timedelta(hours=3), T0 - pd.Timedelta(hours=1)],
            "rides": [10.0, 99.0],
            "docks": [1, 2],
        }
    )
    later.to_parquet(folder / "b.parquet")
    [run] = store.materialize(incremental=True, end=NOW)
    assert run.mode == "incremental" and run.entities == 1  # the late row of station 2 is older
    got = store.get_online_features([{"station": 1}, {"station": 2}], ["station_stats:rides"])
    assert got["rides"] == [10.0, 2.0]
    fresh = store.freshness("station_stats", now=NOW)
    assert fresh.watermark == T0.timestamp() + 3 * HOUR
    assert fresh.lag_s == pytest.approx(7 * HOUR)
    assert fresh.last_status == "done"
    [again] = store.materialize(incremental=True, end=NOW)
    assert again.entities == 0 and again.watermark == fresh.watermark


def test_values_older_than_the_ttl_are_neither_materialized_nor_served(
    store: FeatureStore, tmp_path: Path
) -> None:
    store.apply(station_definitions(str(rides(tmp_path)), ttl_h=6))  # type: ignore[arg-type]
    [run] = store.materialize(end=NOW)  # station 2's newest row (3h) is 7 h old at NOW
    assert run.entities == 1
    assert store.get_online_features([{"station": 2}], "demand")["rides"] == [None]
    lookup = store.lookup("demand")
    assert lookup.get([{"station": 1}], now=NOW)["rides"] == [30.0]
    assert lookup.get([{"station": 1}], now=NOW + 2 * HOUR)["rides"] == [None]


def test_a_failed_run_is_recorded_and_bad_rows_are_refused(
    store: FeatureStore, tmp_path: Path
) -> None:
    source = str(rides(tmp_path))
    store.apply([Entity("station", ["station"]), FeatureView("v", "station", source, ["ghost"])])
    with pytest.raises(ValidationError, match="lacks columns"):
        store.materialize(["v"], end=NOW)
    assert store.runs("v")[0].status == "failed"
    store.apply(station_definitions(source))  # type: ignore[arg-type]
    store.materialize(["station_stats"], end=NOW)
    with pytest.raises(ValidationError, match="lacks the join key 'station'"):
        store.get_online_features([{"id": 1}], "demand")
    with pytest.raises(ValidationError, match="no entity rows"):
        store.get_online_features([], "demand")
