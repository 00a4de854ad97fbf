"""The data plane driven in-process through httpx.ASGITransport, lifespan included."""

from __future__ import annotations

import math
import os
import random
from typing import Any

import orjson
import pytest

from loopml.prediction_log import PredictionLog
from loopml.prediction_log.records import InputMatrix
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, deploy, register_shops, route, serve, shops_frame

pytestmark = pytest.mark.anyio


def _split(cancer: Cancer, n: int = 1) -> dict[str, Any]:
    rows = cancer.frame.iloc[:n]
    return {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}


async def test_predict_accepts_every_layout(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    expected = cancer_v1_predictions(client, cancer, 2)
    split = _split(cancer, 2)
    records = cancer.records(2)
    bodies = [
        {"records": records},
        records,
        split,
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": split["data"]},
        {"inputs": {c: [r[c] for r in records] for c in split["columns"]}},
        {"inputs": records},
        {"columns": split["columns"][::-1], "data": [row[::-1] for row in split["data"]]},
    ]
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        for body in bodies:
            r = await http.post("/v1/deployments/cancer/predict", json=body)
            assert r.status_code == 200, (body, r.text)
            answer = r.json()
            assert answer["predictions"] == expected
            assert len(answer["probabilities"]) == 2
            assert math.isclose(sum(answer["probabilities"][0]), 1.0)
            assert answer["model"] == "model:cancer/1"
            assert answer["request_id"] == r.headers["x-request-id"]
        r = await http.post("/invocations", json={"dataframe_split": split})
        assert r.status_code == 200 and r.json()["predictions"] == expected


def cancer_v1_predictions(client: Client, cancer: Cancer, n: int) -> list[int]:
    model = client.models.load("model:cancer/1")
    return [int(v) for v in model.predict(cancer.frame.iloc[:n].to_numpy())]


async def test_dataframe_models_get_names_and_categories(client: Client) -> None:
    shops = register_shops(client)
    deploy(client, "shops", [route(shops)])
    record = {"temp": 25.0, "season": "summer", "visits": 3}
    async with serve(create_app(client, ["shops"], auth="open")) as http:
        r = await http.post("/v1/deployments/shops/predict", json=[record])
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] in ([0], [1])
        info = (await http.get("/v1/deployments/shops")).json()
        assert info["routes"][0]["input"] == "dataframe"
        assert [c["name"] for c in info["routes"][0]["signature"]["inputs"]] == [
            "temp",
            "season",
            "visits",
        ]
        bad = {"temp": "hot", "season": "monsoon", "visits": 1.5, "extra": 1}
        r = await http.post("/v1/deployments/shops/predict", json=[bad])
        assert r.status_code == 422
        problems = {d["field"]: d for d in r.json()["detail"]}
        assert set(problems) == {"extra"}  # layout first: the extra column
        del bad["extra"]
        r = await http.post("/v1/deployments/shops/predict", json=[bad])
        problems = {d["field"]: d for d in r.json()["detail"]}
        assert set(problems) == {"temp", "season", "visits"}
        assert "unknown category 'monsoon'" in problems["season"]["problem"]
        assert "'spring'" in problems["season"]["hint"]
        assert "expected float" in problems["temp"]["problem"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"", 400, "body"),
        (b'"text"', 422, "body"),
        (b"{}", 422, "body"),
        (b'{"records": []}', 422, "records"),
        (b'{"records": {"a": 1}}', 422, "records"),
        (b"[1, 2, 3]", 422, "body"),
        (b'{"columns": ["a"], "data": 3}', 422, "data.data"),
        (b'{"columns": [1], "data": [[1]]}', 422, "data.columns"),
        (b'{"inputs": {"a": [1], "b": [1, 2]}}', 422, "inputs"),
    ],
)
async def test_malformed_bodies(
    client: Client, cancer_v1: ModelVersion, body: bytes, status: int, field: str
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        r = await http.post("/v1/deployments/cancer/predict", content=body)
        assert r.status_code == status, r.text
        assert r.json()["detail"][0]["field"] == field
        assert r.json()["detail"][0]["hint"]


async def test_signature_problems_are_listed_field_by_field(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    record = cancer.records(1)[0]
    async with serve(create_app(client, ["cancer"], auth="open")) as http:

        async def problems(body: Any) -> dict[str, str]:
            r = await http.post("/v1/deployments/cancer/predict", json=body)
            assert r.status_code == 422, r.text
            return {d["field"]: d["problem"] for d in r.json()["detail"]}

        missing = {k: v for k, v in record.items() if k != "mean radius"}
        assert (await problems([missing]))["mean radius"].startswith("missing column")
        assert "unexpected column" in (await problems([{**record, "zz": 1}]))["zz"]
        assert "expected float" in (await problems([{**record, "mean area": "big"}]))["mean area"]
        assert "missing value" in (await problems([{**record, "mean area": None}]))["mean area"]
        rest = {k: v for k, v in record.items() if k != "mean area"}
        body = b'[{"mean area": NaN, ' + orjson.dumps(rest)[1:] + b"]"
        r = await http.post("/v1/deployments/cancer/predict", content=body)
        assert r.status_code == 422  # a NaN literal is refused whatever the column
        assert "non-finite" in r.json()["detail"][0]["problem"]
        split = _split(cancer)
        short = {"columns": split["columns"], "data": [split["data"][0][:-1]]}
        assert "number of values" in (await problems(short))["data"]
        twice = {"columns": split["columns"] + ["mean area"], "data": [split["data"][0] + [1.0]]}
        assert "twice" in (await problems(twice))["mean area"]
        for literal in (b"1e400", b"Infinity", b"-Infinity"):
            body = b'[{"mean area": ' + literal + b", " + orjson.dumps(rest)[1:] + b"]"
            r = await http.post("/v1/deployments/cancer/predict", content=body)
            assert r.status_code == 422, (literal, r.text)


async def test_unknown_deployment_size_limit_and_invocations(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    deploy(client, "cancer-b", [route(cancer_v1)])
    app = create_app(client, max_body_bytes=2000, auth="open")
    async with serve(app) as http:
        r = await http.post("/v1/deployments/nope/predict", json=cancer.records(1))
        assert r.status_code == 404
        assert "cancer, cancer-b" in r.json()["detail"][0]["hint"]
        r = await http.post("/v1/deployments/cancer/predict", json=cancer.records(50))
        assert r.status_code == 413
        r = await http.post("/invocations", json=cancer.records(1))
        assert r.status_code == 400
        assert "/v1/deployments/{name}/predict" in r.json()["detail"][0]["hint"]
        listed = (await http.get("/v1/deployments")).json()
        assert [d["name"] for d in listed["deployments"]] == ["cancer", "cancer-b"]
        assert listed["deployments"][0]["routes"] == [{"model": "model:cancer/1", "weight": 100.0}]
        metrics = (await http.get("/metrics")).text
        assert 'loopml_serving_errors_total{deployment="unknown",status="404"} 1.0' in metrics
        assert 'loopml_serving_errors_total{deployment="cancer",status="413"} 1.0' in metrics


async def test_health_readiness_metrics_and_openapi(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer", "later"], auth="open")) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "pid": os.getpid()}
        r = await http.get("/readyz")
        assert r.status_code == 503 and r.json()["missing"] == ["later"]
        for _ in range(3):
            await http.post("/v1/deployments/cancer/predict", json=cancer.records(2))
        text = (await http.get("/metrics")).text
        series = 'deployment="cancer",model="model:cancer/1"'
        assert f"loopml_serving_requests_total{{{series}}} 3.0" in text
        assert f"loopml_serving_request_seconds_count{{{series}}} 3.0" in text
        assert 'loopml_serving_rows_total{model="model:cancer/1"} 6.0' in text
        assert 'loopml_serving_deployment_revision{deployment="cancer"} 1.0' in text
        schema = (await http.get("/openapi.json")).json()
        body = schema["paths"]["/v1/deployments/{name}/predict"]["post"]["requestBody"]
        titles = [s["title"] for s in body["content"]["application/json"]["schema"]["oneOf"]]
        assert "MLflow dataframe_split" in titles and "records" in titles
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        assert (await http.get("/readyz")).json()["ready"] is True


async def test_predictions_and_feedback_reach_the_log(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    seen: list[Any] = []
    feedback: list[Any] = []
    monkeypatch.setattr(PredictionLog, "record", lambda self, rec: seen.append(rec))
    monkeypatch.setattr(
        PredictionLog, "record_feedback", lambda self, *args, **kw: feedback.append(args)
    )
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        r = await http.post(
            "/v1/deployments/cancer/predict",
            json={"dataframe_split": _split(cancer, 2)},
            headers={"X-Request-Id": "order-17"},
        )
        assert r.json()["request_id"] == "order-17"
        ok = await http.post(
            "/v1/deployments/cancer/feedback", json={"request_id": "order-17", "labels": [0, 1]}
        )
        assert ok.status_code == 200
        single = {"request_id": "order-17", "label": 1}
        assert (await http.post("/v1/deployments/cancer/feedback", json=single)).status_code == 200
        r = await http.post("/v1/deployments/nope/feedback", json=single)
        assert r.status_code == 404
        for bad in [{"label": 1}, {"request_id": "x"}, [1], {"request_id": "x", "labels": []}]:
            r = await http.post("/v1/deployments/cancer/feedback", json=bad)
            assert r.status_code == 422, bad
        r = await http.post("/v1/deployments/cancer/feedback", content=b"{nope")
        assert r.status_code == 400
    (record,) = seen
    assert record.deployment == "cancer" and record.request_id == "order-17"
    assert record.model == "model:cancer/1" and record.shadow is False
    inputs = record.inputs
    # every column is a float: the matrix the model was fed, in signature order
    assert isinstance(inputs, InputMatrix)
    rows = inputs.values.tolist()
    assert [dict(zip(inputs.columns, row, strict=True)) for row in rows] == cancer.records(2)
    assert len(record.outputs) == 2 and len(record.probabilities) == 2
    assert feedback == [("cancer", "order-17", [0, 1]), ("cancer", "order-17", 1)]


async def test_no_log_server_refuses_feedback(client: Client, cancer_v1: ModelVersion) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer"], log_predictions=False, auth="open")) as http:
        r = await http.post("/v1/deployments/cancer/feedback", json={"request_id": "a", "label": 1})
        assert r.status_code == 409


def _mutations(rng: random.Random, good: dict[str, Any]) -> bytes:
    """A random malformed or odd body built from a valid record."""
    values: list[Any] = [None, "x", [], {}, True, -1, 1e308, "NaN", [1, [2]], {"a": {}}]
    record = dict(good)
    kind = rng.randrange(8)
    if kind == 0:
        record[rng.choice(list(record))] = rng.choice(values)
    elif kind == 1:
        record.pop(rng.choice(list(record)))
    elif kind == 2:
        record[str(rng.random())] = rng.choice(values)
    elif kind == 3:
        raw = orjson.dumps({"records": [record]})
        cut = rng.randrange(len(raw))
        return raw[:cut] + bytes([rng.randrange(256)]) + raw[cut + 1 :]
    elif kind == 4:
        return orjson.dumps(rng.choice(values))
    elif kind == 5:
        return orjson.dumps(
            {rng.choice(["records", "inputs", "instances", "data"]): rng.choice(values)}
        )
    elif kind == 6:
        return orjson.dumps({"dataframe_split": {"columns": rng.choice(values), "data": [[1]]}})
    else:
        return b"[" * rng.randrange(1, 3000)
    return orjson.dumps([record])


async def test_fuzzed_bodies_never_cause_a_server_error(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    shops = register_shops(client)
    deploy(client, "shops", [route(shops)])
    rng = random.Random(7)
    good = {
        "cancer": cancer.records(1)[0],
        "shops": shops_frame(1).drop(columns="user").to_dict("records")[0],
    }
    statuses: dict[int, int] = {}
    async with serve(create_app(client, auth="open")) as http:
        for i in range(400):
            name = "cancer" if i % 2 else "shops"
            body = _mutations(rng, good[name])
            r = await http.post(f"/v1/deployments/{name}/predict", content=body)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (body[:200], r.text)
            if r.status_code != 200:
                assert r.json()["detail"][0]["problem"]
        r = await http.post("/v1/deployments/cancer/predict", json=[good["cancer"]])
        assert r.status_code == 200  # still serving
    assert statuses.get(422, 0) > 100 and statuses.get(400, 0) > 10


async def test_whole_numbers_beyond_64_bits_are_refused_even_when_they_round_onto_the_limit(
    client: Client,
) -> None:
    """-2**63 - 1 reaches the server as the float -2**63 (JSON integers beyond 64 bits are
    read as doubles): still refused, as schemathesis found."""
    shops = register_shops(client)
    deploy(client, "shops", [route(shops)])
    async with serve(create_app(client, ["shops"], auth="open")) as http:
        for visits in (b"-9223372036854775809", b"9223372036854775808", b"1e19"):
            body = b'[{"temp": 20.0, "season": "summer", "visits": ' + visits + b"}]"
            r = await http.post("/v1/deployments/shops/predict", content=body)
            assert r.status_code == 422, (visits, r.text)
            assert "beyond the range of a 64-bit integer" in r.json()["detail"][0]["problem"]
        ok = b'[{"temp": 20.0, "season": "summer", "visits": 9223372036854775807}]'
        assert (await http.post("/v1/deployments/shops/predict", content=ok)).status_code == 200
