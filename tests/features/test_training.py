"""Training sets from a feature service: point-in-time joins on real data, logged as
dataset versions with lineage to every view's dataset version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vega_datasets import data as vega

from loopml.errors import NotFoundError, ValidationError
from loopml.features import Entity, Feature, FeatureService, FeatureView
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from loopml.store.schema import run_inputs

WEEK = pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def weekly_demand(source: str = "dataset:bikes") -> list[object]:
    """Demand and weather at the same hour of the week, one week earlier."""
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
    )
    service = FeatureService("demand", ["weekly_demand:*"])
    return [slot, view, service]


def prediction_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Entity rows as a forecaster sees them: the hour to predict, asked an hour before."""
    return frame[["weekday", "hr", "timestamp", "bikers"]].assign(
        event_timestamp=frame["timestamp"] - pd.Timedelta(hours=1)
    )


def test_lagged_demand_per_hour_of_week_is_the_value_a_week_before(
    client: Client, bikes: pd.DataFrame
) -> None:
    winter = split_by_months(bikes, [1, 2, 3])
    client.log_dataset("bikes", winter, time_column="timestamp")
    client.features.apply(weekly_demand())
    built = client.training_set("demand", prediction_rows(winter))
    frame = built.frame
    assert len(frame) == len(winter) and built.version.name == "demand-training"
    expected = winter.set_index("timestamp")[["bikers", "temp", "weathersit"]]
    shifted = expected.reindex(frame["timestamp"] - WEEK)  # the same hour, one week before
    known = shifted["bikers"].notna().to_numpy()
    # an hour missing a week before (the data has gaps) takes the latest earlier same slot
    assert known.mean() > 0.85  # all but the first week and a few gaps
    np.testing.assert_array_equal(
        frame["bikers_last_week"].to_numpy()[known], shifted["bikers"].to_numpy()[known]
    )
    assert list(frame["weather_last_week"].to_numpy()[known]) == list(
        shifted["weathersit"].to_numpy()[known]
    )
    first_week = frame["timestamp"] < winter["timestamp"].min() + WEEK
    assert frame.loc[first_week, "bikers_last_week"].isna().all()  # no earlier week: no leak
    # exactly the first hour of each of the 168 slots has nothing before it
    firsts = ~frame.duplicated(["weekday", "hr"])
    assert built.result.missing["bikers_last_week"] == int(firsts.sum()) == 168
    assert frame.loc[firsts, "bikers_last_week"].isna().all()
    # demand repeats weekly: the lag is a strong but not perfect predictor (no leakage)
    corr = frame[["bikers", "bikers_last_week"]].corr().iloc[0, 1]
    assert 0.6 < corr < 0.95


def test_the_logged_version_names_its_views_and_their_dataset_versions(
    client: Client, bikes: pd.DataFrame
) -> None:
    winter = client.log_dataset("bikes", split_by_months(bikes, [1, 2]), time_column="timestamp")
    client.features.apply(weekly_demand())
    entities = client.log_dataset(
        "forecasts",
        prediction_rows(split_by_months(bikes, [2])),
        time_column="event_timestamp",
    )
    built = client.training_set("demand", entities.uri, name="demand-feb")
    assert built.uri == "dataset:demand-feb@1"
    assert built.version.time_column == "event_timestamp"
    assert built.version.parent_id == entities.id  # the entity rows it was built for
    lineage = client.features.training_set_lineage(built.version)
    assert lineage is not None and lineage["service"] == "demand"
    [view] = lineage["views"]
    assert view["view"] == "weekly_demand" and view["version"] == 1
    assert view["source"] == winter.uri and view["dataset_version_id"] == winter.id
    # the same inputs give the same content: the version is reused, not duplicated
    again = client.training_set("demand", entities.uri, name="demand-feb")
    assert again.version.id == built.version.id


def test_inside_a_run_the_training_set_is_its_training_input(
    client: Client, bikes: pd.DataFrame
) -> None:
    client.log_dataset("bikes", split_by_months(bikes, [1]), time_column="timestamp")
    client.features.apply(weekly_demand())
    with client.start_run("demand", "fit") as run:
        built = client.training_set("demand", prediction_rows(split_by_months(bikes, [1])))
    with client.stores.engine.connect() as conn:
        roles = dict(
            conn.execute(
                run_inputs.select()
                .with_only_columns(run_inputs.c.dataset_version_id, run_inputs.c.role)
                .where(run_inputs.c.run_id == run.id)
            ).all()
        )
    assert roles[built.version.id] == "training"


def test_stocks_with_string_keys_and_missing_prices(client: Client, tmp_path: Path) -> None:
    """A second real data set: monthly prices keyed by a ticker string, some unknown."""
    stocks = vega.stocks()
    stocks["date"] = pd.to_datetime(stocks["date"], utc=True)
    rng = np.random.default_rng(0)
    stocks.loc[rng.random(len(stocks)) < 0.05, "price"] = np.nan  # prices nobody recorded
    path = tmp_path / "stocks.parquet"
    stocks.to_parquet(path)
    ticker = Entity("ticker", ["symbol"])
    view = FeatureView("prices", ticker, str(path), {"price": "float64"}, timestamp_column="date")
    client.features.apply([ticker, view, FeatureService("quotes", ["prices:price"])])
    asked = pd.DataFrame(
        {
            "symbol": ["MSFT", "AAPL", "IBM", "GOOG", "NOPE"],
            "event_timestamp": pd.to_datetime(
                ["2005-06-15", "2008-01-01", "2000-01-01", "2003-01-01", "2005-01-01"], utc=True
            ),
        }
    )
    built = client.training_set("quotes", asked, name="quotes-training")
    frame = built.frame.set_index("symbol")
    for symbol, when in zip(asked["symbol"], asked["event_timestamp"], strict=True):
        earlier = stocks[(stocks["symbol"] == symbol) & (stocks["date"] <= when)]
        expected = earlier.sort_values("date")["price"].iloc[-1] if len(earlier) else np.nan
        got = frame.loc[symbol, "price"]
        assert (np.isnan(expected) and np.isnan(got)) or got == expected, symbol
    assert np.isnan(frame.loc["GOOG", "price"])  # listed in 2004: nothing before
    assert np.isnan(frame.loc["NOPE", "price"])  # an unknown ticker: nothing at all
    lineage = client.features.training_set_lineage(built.version)
    assert lineage is not None
    assert lineage["views"][0]["source"] == str(path)  # files: no dataset version to name
    assert lineage["views"][0]["dataset_version_id"] is None


def test_unknown_services_and_bad_entity_rows_are_refused(
    client: Client, bikes: pd.DataFrame
) -> None:
    client.log_dataset("bikes", split_by_months(bikes, [1]), time_column="timestamp")
    client.features.apply(weekly_demand())
    rows = prediction_rows(split_by_months(bikes, [1]))
    with pytest.raises(NotFoundError, match="no feature service 'nope'"):
        client.training_set("nope", rows)
    with pytest.raises(ValidationError, match="name of a feature service"):
        client.training_set("", rows)
    with pytest.raises(ValidationError, match="entity rows must be"):
        client.training_set("demand", 42)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no dataset version"):
        client.training_set("demand", "dataset:missing@1")
    plain = client.log_dataset("plain", rows.drop(columns=["timestamp", "event_timestamp"]))
    with pytest.raises(ValidationError, match="no timestamp column 'event_timestamp'"):
        client.training_set("demand", plain.uri)
    with pytest.raises(ValidationError, match="lack"):
        client.training_set("demand", rows.drop(columns=["hr"]))
    assert [v.name for v in client.datasets.list()] == ["bikes", "plain"]  # nothing logged
