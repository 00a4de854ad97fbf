"""Refused and failed requests of a served deployment reach the prediction log as errors."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app, predict
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio


async def test_failures_are_logged_with_status_model_and_latency(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    seen: list[PredictionRecord] = []
    monkeypatch.setattr(PredictionLog, "record", lambda self, rec: seen.append(rec))
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        url = "/v1/deployments/cancer/predict"
        bad = await http.post(url, content=b"{nope", headers={"X-Request-Id": "bad-1"})
        assert bad.status_code == 400 and bad.headers["x-request-id"] == "bad-1"
        wrong = {**cancer.records(1)[0], "mean area": "big"}
        assert (await http.post(url, json=[wrong])).status_code == 422
        assert (await http.post(url, json=cancer.records(1))).status_code == 200
        assert (await http.post("/v1/deployments/nope/predict", json=[wrong])).status_code == 404

        async def broken(*_args: Any) -> Any:
            raise RuntimeError("the model fell over")

        monkeypatch.setattr(predict, "_score", broken)
        failed = await http.post(url, json=cancer.records(1))
        assert failed.status_code == 500 and failed.headers["x-request-id"].startswith("req-")
    assert [r.status for r in seen] == [400, 422, 200, 500]
    parse_error, invalid, answered, crashed = seen
    assert parse_error.request_id == "bad-1" and parse_error.model == ""  # never routed
    assert invalid.model == crashed.model == answered.model == "model:cancer/1"
    for record in (parse_error, invalid, crashed):
        assert record.deployment == "cancer" and record.shadow is False
        assert record.inputs == [] and record.outputs == [] and record.probabilities is None
        assert record.latency_ms >= 0


async def test_failures_never_show_as_predictions(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        url = "/v1/deployments/cancer/predict"
        assert (await http.post(url, json=cancer.records(3))).status_code == 200
        assert (await http.post(url, json=[{"mean area": 1}])).status_code == 422
    with PredictionLog(client.stores) as log:
        assert len(log.predictions("cancer")) == 3
        with log.duckdb("cancer") as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM prediction_log GROUP BY status ORDER BY status"
            ).fetchall()
    assert rows == [(200, 3), (422, 1)]
