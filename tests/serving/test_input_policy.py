"""A deployment's input policy on real data with strings: unseen categories refused,
accepted or flagged, extra columns refused or dropped (bike-share and Seattle weather)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from vega_datasets import data as vega

from loopml.prediction_log import PredictionLog
from loopml.registry import ModelVersion
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import serve

pytestmark = pytest.mark.anyio

BIKE_INPUTS = ["hr", "weekday", "temp", "hum", "mnth", "weathersit"]
SEATTLE_INPUTS = ["precipitation", "wind", "weather"]
URL = "/v1/deployments/{}/predict"


def _pipeline(strings: list[str]) -> Pipeline:
    """A model that scores unseen strings (all-zero one-hot): `accept` really predicts."""
    encode = OneHotEncoder(handle_unknown="ignore")
    return make_pipeline(
        ColumnTransformer([("strings", encode, strings)], remainder="passthrough"),
        HistGradientBoostingRegressor(max_iter=40, random_state=0),
    )


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def register_bikes(client: Client, bikes: pd.DataFrame) -> tuple[ModelVersion, Pipeline]:
    """Trained on February to December 2011: January's month name and its one hour of
    heavy rain/snow never occur in the training data the signature is read from."""
    train = split_by_months(bikes, range(2, 13))
    model = _pipeline(["mnth", "weathersit"]).fit(train[BIKE_INPUTS], train["bikers"])
    with client.start_run("bikes", capture_code=False) as run:
        version = run.log_model(model, name="bikes", training_data=train[BIKE_INPUTS])
    return version, model


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return json.loads(frame[columns].to_json(orient="records"))


async def test_unseen_categories_of_bike_share_refused_accepted_or_flagged(
    client: Client, bikes: pd.DataFrame
) -> None:
    version, model = register_bikes(client, bikes)
    spec = {s["name"]: s for s in version.signature["inputs"]}
    assert "heavy rain/snow" not in spec["weathersit"]["categories"]
    assert "Jan" not in spec["mnth"]["categories"]
    january = split_by_months(bikes, [1])
    stormy = january.index[january["weathersit"] == "heavy rain/snow"][0]
    hours = january.iloc[stormy - 2 : stormy + 2].reset_index(drop=True)  # 4 January hours
    body = {"records": _records(hours, BIKE_INPUTS)}
    expected = [float(v) for v in model.predict(hours[BIKE_INPUTS])]
    for name, policy in (("strict", "error"), ("open", "accept"), ("watch", "flag")):
        client.deployments.create(name, version.uri, unknown_categories=policy)
    async with serve(create_app(client, ["strict", "open", "watch"], auth="open")) as http:
        refused = await http.post(URL.format("strict"), json=body)
        assert refused.status_code == 422, refused.text
        problems = {d["field"]: d for d in refused.json()["detail"]}
        assert set(problems) == {"mnth", "weathersit"}
        assert problems["mnth"]["problem"].startswith("unknown category 'Jan' at rows 0, 1, 2")
        assert "'heavy rain/snow' at row 2" in problems["weathersit"]["problem"]
        assert "'clear'" in problems["weathersit"]["hint"]
        assert (
            "loopml deploy update strict --unknown-categories flag"
            in (problems["weathersit"]["hint"])
        )

        accepted = await http.post(URL.format("open"), json=body)
        assert accepted.status_code == 200, accepted.text
        assert np.allclose(accepted.json()["predictions"], expected)
        assert "unseen_categories" not in accepted.json()

        flagged = await http.post(URL.format("watch"), json=body)
        assert flagged.status_code == 200, flagged.text
        answer = flagged.json()
        assert np.allclose(answer["predictions"], expected)
        assert answer["unseen_categories"] == [
            {"mnth": "Jan"},
            {"mnth": "Jan"},
            {"mnth": "Jan", "weathersit": "heavy rain/snow"},
            {"mnth": "Jan"},
        ]
        february = split_by_months(bikes, [2]).iloc[:3]
        seen = await http.post(URL.format("watch"), json=_records(february, BIKE_INPUTS))
        assert seen.status_code == 200 and "unseen_categories" not in seen.json()
    with PredictionLog(client.stores) as log:
        logged = log.predictions("watch")
        assert len(log.predictions("strict")) == 0  # the refusal scored nothing
    marks = [None if pd.isna(v) else json.loads(v) for v in logged["unseen"]]
    assert marks == [*answer["unseen_categories"], None, None, None]
    assert list(logged["in_weathersit"][:4]) == list(hours["weathersit"])


async def test_extra_columns_refused_or_dropped_and_the_policy_follows_updates(
    client: Client, bikes: pd.DataFrame
) -> None:
    version, model = register_bikes(client, bikes)
    hours = split_by_months(bikes, [6]).iloc[:5].reset_index(drop=True)
    whole = _records(hours, [*BIKE_INPUTS, "casual", "registered", "season"])  # whole rows
    expected = [float(v) for v in model.predict(hours[BIKE_INPUTS])]
    client.deployments.create("bikes", version.uri)
    app = create_app(client, ["bikes"], auth="open")
    async with serve(app) as http:
        refused = await http.post(URL.format("bikes"), json={"records": whole})
        assert refused.status_code == 422
        problems = {d["field"]: d for d in refused.json()["detail"]}
        assert set(problems) == {"casual", "registered", "season"}
        assert problems["casual"]["problem"].startswith("unexpected column in rows 0, 1, 2")
        assert "--extra-columns ignore" in problems["casual"]["hint"]

        client.deployments.update("bikes", extra_columns="ignore", reason="clients send rows")
        app.state.serving.watcher.sync()  # what the watcher thread does within a second
        described = (await http.get("/v1/deployments/bikes")).json()
        assert described["inputs"] == {"unknown_categories": "error", "extra_columns": "ignore"}
        dropped = await http.post(URL.format("bikes"), json={"records": whole})
        assert dropped.status_code == 200, dropped.text
        assert np.allclose(dropped.json()["predictions"], expected)
        assert dropped.json()["ignored_columns"] == ["casual", "registered", "season"]
        assert dropped.headers["x-loopml-ignored-columns"] == "3"
        columns = [*BIKE_INPUTS, "casual"]
        split = {"columns": columns, "data": hours[columns].to_numpy().tolist()}
        table = await http.post(URL.format("bikes"), json=split)
        assert table.status_code == 200 and table.json()["ignored_columns"] == ["casual"]
        missing = [{k: v for k, v in r.items() if k != "temp"} for r in whole]
        still = await http.post(URL.format("bikes"), json=missing)
        assert still.status_code == 422  # dropping extras never excuses a missing column
        assert {d["field"] for d in still.json()["detail"]} == {"temp"}
    with PredictionLog(client.stores) as log:
        logged = log.predictions("bikes")
    assert len(logged) == 10
    assert not {"in_casual", "in_registered", "in_season"} & set(logged.columns)


@pytest.fixture(scope="module")
def seattle() -> pd.DataFrame:
    return vega.seattle_weather()


async def test_seattle_snow_is_unseen_by_a_model_trained_on_may_to_november(
    client: Client, seattle: pd.DataFrame
) -> None:
    """vega_datasets' Seattle weather 2012-2015: no snow day fell from May to November."""
    months = seattle["date"].dt.month
    train = seattle[months.between(5, 11)]
    model = _pipeline(["weather"]).fit(train[SEATTLE_INPUTS], train["temp_max"])
    with client.start_run("seattle", capture_code=False) as run:
        version = run.log_model(model, name="seattle", training_data=train[SEATTLE_INPUTS])
    client.deployments.create("temps", version.uri, unknown_categories="flag")
    client.deployments.create("temps-strict", version.uri)
    winter = seattle[(seattle["date"].dt.year == 2012) & (months <= 2)].reset_index(drop=True)
    body = {"records": _records(winter, SEATTLE_INPUTS)}
    snowy = [i for i, w in enumerate(winter["weather"]) if w == "snow"]
    assert snowy  # January and February 2012 had snow days
    async with serve(create_app(client, ["temps", "temps-strict"], auth="open")) as http:
        refused = await http.post(URL.format("temps-strict"), json=body)
        assert refused.status_code == 422
        [problem] = refused.json()["detail"]
        assert problem["field"] == "weather"
        assert problem["problem"].startswith("unknown category 'snow' at rows ")
        flagged = await http.post(URL.format("temps"), json=body)
        assert flagged.status_code == 200, flagged.text
    marks = flagged.json()["unseen_categories"]
    assert [i for i, m in enumerate(marks) if m is not None] == snowy
    assert all(marks[i] == {"weather": "snow"} for i in snowy)
    expected = model.predict(winter[SEATTLE_INPUTS])
    assert np.allclose(flagged.json()["predictions"], expected)


async def test_the_openapi_document_follows_the_policy(client: Client, bikes: pd.DataFrame) -> None:
    version, _ = register_bikes(client, bikes)
    client.deployments.create("strict", version.uri)
    client.deployments.create(
        "loose", version.uri, unknown_categories="flag", extra_columns="ignore"
    )
    async with serve(create_app(client, ["strict", "loose"], auth="open")) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]

    def schema(name: str) -> dict[str, Any]:
        body = paths[f"/v1/deployments/{name}/predict"]["post"]["requestBody"]
        result: dict[str, Any] = body["content"]["application/json"]["schema"]
        return result

    def strings(column: dict[str, Any]) -> dict[str, Any]:
        """The string branch (a column the model scores when missing also admits null)."""
        found: dict[str, Any] = next(s for s in column.get("anyOf", [column]) if s.get("type"))
        return found

    strict, loose = schema("strict"), schema("loose")
    record = strict["properties"]["records"]["items"]
    assert record["additionalProperties"] is False
    assert "Feb" in strings(record["properties"]["mnth"])["enum"]
    assert "Jan" not in strings(record["properties"]["mnth"])["enum"]
    record = loose["properties"]["records"]["items"]
    assert record["additionalProperties"] is True
    assert "enum" not in strings(record["properties"]["weathersit"])
    assert "flagged" in strings(record["properties"]["weathersit"])["description"]
    for document in (strict, loose):
        assert document["properties"]["event_time"]["type"] == "number"
        assert document["additionalProperties"] is False
