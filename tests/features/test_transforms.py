"""On-demand features: one function, the same values offline and online (no skew)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.features import Feature, FeatureService, FeatureStore, OnDemandFeatureView
from tests.features.conftest import T0, rides, station_definitions
from tests.features.ondemand import rides_per_hour


def _apply(store: FeatureStore, tmp_path: Path) -> None:
    ratio = OnDemandFeatureView(
        "ratios",
        rides_per_hour,
        [Feature("rides_per_hour", "float64")],
        inputs=["station_stats:rides"],
        request_fields={"hours_open": "float64"},
    )
    service = FeatureService("model", ["station_stats:docks", "ratios:rides_per_hour"])
    store.apply([*station_definitions(str(rides(tmp_path))), ratio, service])  # type: ignore[list-item]


def test_training_and_serving_compute_the_same_values(store: FeatureStore, tmp_path: Path) -> None:
    _apply(store, tmp_path)
    rows = [
        {"station": 1, "hours_open": 4.0},
        {"station": 2, "hours_open": 0.5},
        {"station": 5, "hours_open": 2.0},
    ]
    late = T0 + pd.Timedelta(hours=9)
    frame = pd.DataFrame(rows).assign(event_timestamp=late)
    offline = store.get_historical_features(frame, "model").to_pandas()
    store.materialize(end=late.timestamp())
    online = store.get_online_features(rows, "model")
    assert online["rides_per_hour"][:2] == offline["rides_per_hour"].tolist()[:2]
    assert online["rides_per_hour"][:2] == [7.5, 7.0]
    assert online["rides_per_hour"][2] is None and math.isnan(offline["rides_per_hour"][2])
    assert online["docks"][:2] == offline["docks"].tolist()[:2]


def test_request_fields_are_required_and_a_raising_function_is_named(
    store: FeatureStore, tmp_path: Path
) -> None:
    _apply(store, tmp_path)
    store.materialize(end=T0.timestamp() + 9 * 3600)
    with pytest.raises(ValidationError, match="request fields \\['hours_open'\\]"):
        store.get_online_features([{"station": 1}], "model")
    with pytest.raises(ValidationError, match="rides_per_hour raised"):
        store.get_online_features([{"station": 1, "hours_open": "x"}], "model")
