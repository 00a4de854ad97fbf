"""Point-in-time joins, checked against a brute-force join on random data."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.errors import ValidationError
from loopml.features import Entity, Feature, FeatureService, FeatureStore, FeatureView
from loopml.sdk import Client
from tests.features.conftest import T0, rides, station_definitions

HOUR = pd.Timedelta(hours=1)
_counter = itertools.count()


def brute_force(
    source: list[tuple[int, int, float]], entities: list[tuple[int, int]], ttl_h: int | None
) -> list[float | None]:
    """For each entity row: the value of the last-stored source row with the same key, the
    newest event time at or before the row's, within the TTL; None otherwise."""
    answers: list[float | None] = []
    for key, at in entities:
        best: tuple[int, int] | None = None  # (event hour, position)
        for position, (k, hour, _) in enumerate(source):
            if k == key and hour <= at and (best is None or (hour, position) >= best):
                best = (hour, position)
        if best is None or (ttl_h is not None and at - best[0] > ttl_h):
            answers.append(None)
        else:
            answers.append(source[best[1]][2])
    return answers


source_rows = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 12), st.floats(-1e6, 1e6, allow_nan=False)),
    min_size=1,
    max_size=40,
)
entity_rows = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 15)), min_size=1, max_size=30)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    source=source_rows,
    entities=entity_rows,
    ttl_h=st.one_of(st.none(), st.integers(1, 6)),
    files=st.integers(1, 2),
)
def test_matches_a_brute_force_join(
    store: FeatureStore,
    tmp_path: Path,
    source: list[tuple[int, int, float]],
    entities: list[tuple[int, int]],
    ttl_h: int | None,
    files: int,
) -> None:
    """Random data covers TTL edges (age exactly TTL), equal timestamps, entities with no
    rows (key 4), rows out of time order (late arrivals, also in a second file), duplicate
    (key, time) rows and duplicate entity rows."""
    folder = tmp_path / f"src{next(_counter)}"
    folder.mkdir()
    split = len(source) // 2 if files == 2 else len(source)
    for index, part in enumerate((source[:split], source[split:])):
        if not part:
            continue
        pd.DataFrame(
            {
                "k": [r[0] for r in part],
                "event_timestamp": [T0 + r[1] * HOUR for r in part],
                "v": [r[2] for r in part],
            }
        ).to_parquet(folder / f"part-{index}.parquet")
    store.apply(
        [
            Entity("thing", ["k"]),
            FeatureView(
                "things", "thing", str(folder), {"v": "float64"}, ttl=ttl_h and ttl_h * 3600
            ),
        ]
    )
    frame = pd.DataFrame(
        {"k": [e[0] for e in entities], "event_timestamp": [T0 + e[1] * HOUR for e in entities]}
    )
    result = store.get_historical_features(frame, ["things:v"])
    got = result.to_pandas()
    expected = brute_force(source, entities, ttl_h)
    assert len(got) == len(entities)
    assert got["k"].tolist() == frame["k"].tolist()  # the entity rows, in their order
    values = [None if (v is None or math.isnan(v)) else v for v in got["v"].tolist()]
    assert values == expected
    assert result.missing["v"] == sum(v is None for v in expected)
    assert result.unmatched["things"] == sum(v is None for v in expected)


def test_ttl_edges_and_missing_entities(store: FeatureStore, tmp_path: Path) -> None:
    store.apply(station_definitions(str(rides(tmp_path)), ttl_h=2))  # type: ignore[arg-type]
    frame = pd.DataFrame(
        {
            "station": [1, 1, 1, 2, 3],
            "event_timestamp": [T0 + h * HOUR for h in (2, 4, 4.5, 0.5, 9)],
        }
    )
    got = store.get_historical_features(frame, "demand").to_pandas()
    # station 1 rows at 0h, 2h, 5h: at 2h -> the 2h row (equal time counts); at 4h -> 2h row
    # exactly 2 h old (inside the TTL); at 4.5h -> too old; station 2 at 0.5h: before its
    # first row; station 3: unknown
    assert got["rides"].tolist()[:2] == [20.0, 20.0]
    assert got["rides"].isna().tolist() == [False, False, True, True, True]
    assert got["docks"].tolist()[:2] == [4, 4]


def test_a_dataset_source_and_a_logged_training_set_keep_lineage(
    client: Client, store: FeatureStore, tmp_path: Path
) -> None:
    version = client.log_dataset("rides", rides(tmp_path), time_column="event_timestamp")
    store.apply(station_definitions("dataset:rides"))  # type: ignore[arg-type]
    frame = pd.DataFrame({"station": [1, 2], "event_timestamp": [T0 + 3 * HOUR, T0 + 3 * HOUR]})
    result = store.get_historical_features(frame, "demand")
    assert result.to_pandas()["rides"].tolist() == [20.0, 7.0]
    training = store.log_training_set(result, "demand-train")
    lineage = store.training_set_lineage(training.uri)
    assert lineage is not None
    assert lineage["service"] == "demand"
    assert lineage["views"][0]["dataset_version_id"] == version.id
    assert lineage["views"][0]["source"] == version.uri
    # the same content again: the same version, the lineage kept once
    assert store.log_training_set(result, "demand-train").id == training.id


def test_output_to_parquet_streams_and_counts(store: FeatureStore, tmp_path: Path) -> None:
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    frame = pd.DataFrame({"station": [1, 9], "event_timestamp": [T0 + 6 * HOUR] * 2})
    result = store.get_historical_features(
        frame, "demand", output=tmp_path / "out" / "train.parquet", memory_limit="64MB"
    )
    assert result.table is None and result.path is not None and result.path.exists()
    assert result.rows == 2 and result.missing == {"rides": 1, "docks": 1}
    assert result.unmatched == {"station_stats": 1}
    assert result.to_pandas()["rides"].tolist()[0] == 30.0


def test_timestamps_without_time_zone_join_with_aware_ones(
    store: FeatureStore, tmp_path: Path
) -> None:
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    naive = pd.DataFrame({"station": [1], "event_timestamp": [pd.Timestamp("2025-01-01 02:30")]})
    assert store.get_historical_features(naive, "demand").to_pandas()["rides"].tolist() == [20.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"station": [1]}), "no timestamp column 'event_timestamp'"),
        (pd.DataFrame({"event_timestamp": [T0]}), "lack \\['station'\\]"),
        (pd.DataFrame({"station": [1], "event_timestamp": [T0], "rides": [1]}), "named like"),
    ],
)
def test_bad_entity_rows_are_refused(
    store: FeatureStore, tmp_path: Path, frame: pd.DataFrame, message: str
) -> None:
    store.apply(station_definitions(str(rides(tmp_path))))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=message):
        store.get_historical_features(frame, "demand")


def test_a_source_missing_columns_is_refused(store: FeatureStore, tmp_path: Path) -> None:
    source = str(rides(tmp_path))
    store.apply(
        [
            Entity("station", ["station"]),
            FeatureView("v", "station", source, {"ghost": "float64"}),
            FeatureService("s", ["v:ghost"]),
        ]
    )
    frame = pd.DataFrame({"station": [1], "event_timestamp": [T0]})
    with pytest.raises(ValidationError, match="lacks columns \\['ghost'\\]"):
        store.get_historical_features(frame, "s")


def test_expressions_derive_features_row_by_row(store: FeatureStore, tmp_path: Path) -> None:
    store.apply(
        [
            Entity("station", ["station"]),
            FeatureView(
                "derived",
                "station",
                str(rides(tmp_path)),
                [Feature("per_dock", "float64", "rides / docks"), Feature("rides")],
            ),
        ]
    )
    frame = pd.DataFrame({"station": [1], "event_timestamp": [T0 + 9 * HOUR]})
    got = store.get_historical_features(frame, ["derived:per_dock", "derived:rides"])
    assert got.to_pandas()["per_dock"].tolist() == [6.0]
