"""Micro-batching: concurrent requests share predict calls, bounded by rows, failures isolated."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import BatchingConfig, create_app
from loopml.serving.batching import MicroBatcher
from loopml.serving.errors import ServingError
from loopml.serving.metrics import ServingMetrics
from loopml.serving.scoring import Scores
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio


class CountingRunner:
    """Stands in for a ModelRunner: predicts the row's first value, refuses negatives."""

    uri = "model:fake/1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, rows: list[Any]) -> Scores:
        self.calls.append(len(rows))
        if any(row[0] < 0 for row in rows):
            raise ServingError.one(422, "x", "negative", "send a positive x")
        return Scores([row[0] for row in rows], None)


async def test_concurrent_requests_share_predict_calls_bounded_by_rows() -> None:
    runner = CountingRunner()
    with ThreadPoolExecutor(1) as pool:
        batcher = MicroBatcher(runner, BatchingConfig(8, 20), pool, ServingMetrics())  # type: ignore[arg-type]
        sizes = [1, 2, 3, 1, 1, 4, 1, 1, 2]
        requests = [[[i * 10 + j] for j in range(n)] for i, n in enumerate(sizes)]
        answers = await asyncio.gather(*(batcher.score(rows) for rows in requests))
    for rows, answer in zip(requests, answers, strict=True):
        assert answer.predictions == [row[0] for row in rows]  # each got its own share back
    assert sum(runner.calls) == sum(sizes)
    assert len(runner.calls) < len(sizes) and max(runner.calls) <= 8


async def test_one_bad_request_does_not_fail_its_batch() -> None:
    runner = CountingRunner()
    with ThreadPoolExecutor(1) as pool:
        batcher = MicroBatcher(runner, BatchingConfig(16, 20), pool, ServingMetrics())  # type: ignore[arg-type]
        results = await asyncio.gather(
            batcher.score([[1]]),
            batcher.score([[-1]]),
            batcher.score([[3]]),
            return_exceptions=True,
        )
    assert isinstance(results[1], ServingError) and results[1].status == 422
    assert [r.predictions for r in (results[0], results[2])] == [[1], [3]]  # type: ignore[union-attr]


async def test_batched_app_answers_like_the_unbatched_one(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    records = cancer.records(40)
    async with serve(create_app(client, ["cancer"], batching=None, auth="open")) as http:
        plain = [
            (await http.post("/v1/deployments/cancer/predict", json=[r])).json() for r in records
        ]
    app = create_app(
        client, ["cancer"], batching=BatchingConfig(max_rows=16, max_wait_ms=5), auth="open"
    )
    async with serve(app) as http:
        batched = await asyncio.gather(
            *(http.post("/v1/deployments/cancer/predict", json=[r]) for r in records)
        )
        metrics = (await http.get("/metrics")).text
        big = await http.post("/v1/deployments/cancer/predict", json=records)  # > max_rows
    for a, b in zip(plain, batched, strict=True):
        assert b.status_code == 200
        assert a["predictions"] == b.json()["predictions"]
        assert a["probabilities"] == b.json()["probabilities"]
    count = _value(metrics, 'loopml_serving_batch_rows_count{model="model:cancer/1"}')
    assert 0 < count < 40  # fewer predict calls than requests
    assert _value(metrics, 'loopml_serving_queue_wait_seconds_count{model="model:cancer/1"}') == 40
    assert big.status_code == 200 and len(big.json()["predictions"]) == 40


async def test_deployment_config_switches_batching(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "on", [route(cancer_v1)], config={"batching": {"max_rows": 4}})
    deploy(client, "off", [route(cancer_v1)], config={"batching": False})
    app = create_app(client, batching=BatchingConfig(), auth="open")
    async with serve(app) as http:
        tables = app.state.serving.watcher.tables
        assert tables["on"].batching == BatchingConfig(max_rows=4)
        assert tables["off"].batching is None
        for name in ("on", "off"):
            r = await http.post(f"/v1/deployments/{name}/predict", json=cancer.records(1))
            assert r.status_code == 200


def _value(metrics: str, series: str) -> float:
    line = next(line for line in metrics.splitlines() if line.startswith(series))
    return float(line.rsplit(" ", 1)[1])


async def test_a_lone_request_is_scored_without_waiting() -> None:
    runner = CountingRunner()
    with ThreadPoolExecutor(1) as pool:
        config = BatchingConfig(64, max_wait_ms=500)
        batcher = MicroBatcher(runner, config, pool, ServingMetrics(), arriving=lambda: 0)  # type: ignore[arg-type]
        started = asyncio.get_running_loop().time()
        answer = await batcher.score([[7]])
        took = asyncio.get_running_loop().time() - started
    assert answer.predictions == [7] and runner.calls == [1]
    assert took < 0.25  # nobody else was arriving: no 500 ms wait


async def test_a_batch_waits_for_requests_still_arriving_then_closes() -> None:
    runner = CountingRunner()
    arriving = [2]
    with ThreadPoolExecutor(1) as pool:
        config = BatchingConfig(64, max_wait_ms=5000)
        batcher = MicroBatcher(
            runner,  # type: ignore[arg-type]
            config,
            pool,
            ServingMetrics(),
            arriving=lambda: arriving[0],
        )

        async def late(value: int, delay: float) -> Scores:
            await asyncio.sleep(delay)
            arriving[0] -= 1  # its body is read: it joins the batch
            return await batcher.score([[value]])

        started = asyncio.get_running_loop().time()
        first = batcher.score([[1]])
        answers = await asyncio.gather(first, late(2, 0.02), late(3, 0.04))
        took = asyncio.get_running_loop().time() - started
    assert [a.predictions for a in answers] == [[1], [2], [3]]
    assert runner.calls == [3]  # one call for the three requests
    assert took < 2.5  # closed when the last one arrived, not after max_wait
