"""What the prediction log keeps of each request's inputs, through the real app."""

from __future__ import annotations

import asyncio

import pytest

from loopml.prediction_log import PredictionLog
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, deploy, register_shops, route, serve, shops_frame

pytestmark = pytest.mark.anyio
URL = "/v1/deployments/{}/predict"


async def test_float_inputs_are_logged_as_sent_through_micro_batches(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    """Concurrent 1-row requests share predict calls; each request's rows land in the log
    under its own id, integers sent to float columns as doubles, a 100-row request too."""
    deploy(client, "cancer", [route(cancer_v1)])
    sent = {f"one-{i}": cancer.records(1, start=i) for i in range(12)}
    sent["one-0"][0]["mean radius"] = 14  # an integer literal for a float column
    sent["many"] = cancer.records(100, start=200)
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        answers = await asyncio.gather(
            *(
                http.post(URL.format("cancer"), json=records, headers={"X-Request-Id": rid})
                for rid, records in sent.items()
            )
        )
        assert [r.status_code for r in answers] == [200] * len(sent)
        metrics = (await http.get("/metrics")).text
    calls = [line for line in metrics.splitlines() if "batch_rows_count" in line]
    assert calls and float(calls[0].rsplit(" ", 1)[1]) < 12  # some requests shared a call
    with PredictionLog(client.stores) as log:
        logged = log.predictions("cancer")
    columns = [f"in_{name}" for name in cancer.frame.columns]
    assert all(str(logged[c].dtype) == "float64" for c in columns)
    for rid, records in sent.items():
        rows = logged[logged["request_id"] == rid].sort_values("row")
        assert rows[columns].to_numpy().tolist() == [list(r.values()) for r in records], rid
    assert logged.loc[logged["request_id"] == "one-0", "in_mean radius"].tolist() == [14.0]


async def test_mixed_inputs_keep_their_types(client: Client) -> None:
    """A model with string and integer columns is logged value by value, types kept."""
    version = register_shops(client)
    deploy(client, "shops", [route(version)])
    records = shops_frame(3)[["temp", "season", "visits"]].to_dict(orient="records")
    async with serve(create_app(client, ["shops"], auth="open")) as http:
        r = await http.post(URL.format("shops"), json=records)
        assert r.status_code == 200, r.text
    with PredictionLog(client.stores) as log:
        logged = log.predictions("shops")
    assert logged["in_season"].tolist() == [r["season"] for r in records]
    assert str(logged["in_visits"].dtype) == "int64"
    assert logged["in_temp"].tolist() == [r["temp"] for r in records]
