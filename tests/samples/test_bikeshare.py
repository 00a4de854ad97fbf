"""The bundled Bike Sharing data loads offline with the documented shape and types."""

from __future__ import annotations

import socket
from importlib import resources
from typing import Any

import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.samples import (
    FEATURES,
    MONTHS,
    TARGET,
    bikeshare_features,
    load_bikeshare,
    month_number,
    split_by_months,
)

COLUMNS = [
    "season",
    "mnth",
    "day",
    "hr",
    "holiday",
    "weekday",
    "workingday",
    "weathersit",
    "temp",
    "atemp",
    "hum",
    "windspeed",
    "casual",
    "registered",
    "bikers",
    "timestamp",
]


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def test_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("load_bikeshare must not touch the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(load_bikeshare()) == 8645


def test_rows_columns_and_types(bikes: pd.DataFrame) -> None:
    assert len(bikes) == 8645
    assert list(bikes.columns) == COLUMNS
    assert TARGET == "bikers"
    for column in ("mnth", "weathersit"):
        assert pd.api.types.is_string_dtype(bikes[column])
        assert all(isinstance(v, str) for v in bikes[column].unique())
    for column in ("season", "day", "hr", "holiday", "weekday", "workingday", "bikers"):
        assert pd.api.types.is_integer_dtype(bikes[column]), column
    assert bikes["timestamp"].dtype == "datetime64[ns]"
    assert not bikes.isna().any().any()
    assert (bikes["casual"] + bikes["registered"] == bikes["bikers"]).all()


def test_timestamp_agrees_with_day_hour_and_month(bikes: pd.DataFrame) -> None:
    stamps = bikes["timestamp"]
    assert stamps.min() == pd.Timestamp("2011-01-01 00:00")
    assert stamps.max() == pd.Timestamp("2011-12-31 23:00")
    assert stamps.is_monotonic_increasing and stamps.is_unique
    assert (stamps.dt.day_of_year == bikes["day"]).all()
    assert (stamps.dt.hour == bikes["hr"]).all()
    assert (bikes["mnth"] == [MONTHS[m - 1] for m in stamps.dt.month]).all()
    assert set(bikes["hr"]) == set(range(24))


def test_attribution_ships_with_the_data() -> None:
    text = resources.files("loopml.samples").joinpath("ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in text and "Fanaee-T" in text and "ISLP" in text


@pytest.mark.parametrize(
    ("month", "number"), [(1, 1), ("Jan", 1), ("march", 3), ("Mar", 3), ("Sep", 9), (12, 12)]
)
def test_month_number(month: int | str, number: int) -> None:
    assert month_number(month) == number


@pytest.mark.parametrize("month", [0, 13, "Ja", "Foo", True, 1.0])
def test_month_number_refuses_non_months(month: Any) -> None:
    with pytest.raises(ValidationError, match="not a month"):
        month_number(month)


def test_split_by_months(bikes: pd.DataFrame) -> None:
    winter = split_by_months(bikes, ["Jan", "Feb", 3])
    summer = split_by_months(bikes, range(6, 9))
    assert set(winter["timestamp"].dt.month) == {1, 2, 3}
    assert set(summer["timestamp"].dt.month) == {6, 7, 8}
    assert len(winter) == 2067 and len(summer) == 2195
    assert list(winter.index) == list(range(len(winter)))
    assert summer["temp"].mean() > winter["temp"].mean() + 0.3
    with pytest.raises(ValidationError, match="at least one month"):
        split_by_months(bikes, [])


def test_features_are_numeric_and_stable_across_slices(bikes: pd.DataFrame) -> None:
    january = split_by_months(bikes, [1])
    features = bikeshare_features(january)
    assert list(features.columns) == list(FEATURES)
    assert len(features) == len(january)
    assert all(pd.api.types.is_numeric_dtype(t) for t in features.dtypes)
    weather = features[[c for c in FEATURES if c.startswith("weather_")]]
    assert (weather.sum(axis=1) == 1).all()
    assert (features["month"] == 1).all()
    no_storms = january[january["weathersit"] == "clear"]
    assert list(bikeshare_features(no_storms).columns) == list(FEATURES)
