"""Shadows (logged, never returned, dropped when saturated) and the revision watcher."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from loopml.prediction_log import PredictionLog
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.metrics import ServingMetrics
from loopml.serving.shadow import ShadowScorer
from loopml.serving.watcher import DeploymentWatcher, ModelCache
from tests.serving.conftest import Cancer, deploy, register_cancer, route, serve


@pytest.mark.anyio
async def test_shadow_answers_are_logged_and_never_returned(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    shadow = register_cancer(client, cancer, seed=1)
    deploy(client, "cancer", [route(cancer_v1)], shadows=[route(shadow)])
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        for i in range(5):
            r = await http.post(
                "/v1/deployments/cancer/predict",
                json=cancer.records(2, start=i),
                headers={"X-Request-Id": f"r{i}"},
            )
            assert r.json()["model"] == cancer_v1.uri
    # shutdown waited for the shadow jobs and flushed the log
    logged = PredictionLog(client.stores).predictions("cancer", include_shadow=True)
    by_kind = logged.groupby("shadow")
    assert set(by_kind.get_group(False)["model"]) == {cancer_v1.uri}
    shadows = by_kind.get_group(True)
    assert set(shadows["model"]) == {shadow.uri}
    assert sorted(set(shadows["request_id"])) == [f"r{i}" for i in range(5)]
    assert len(shadows) == 10  # two rows per request


def test_a_saturated_shadow_pool_drops_and_counts() -> None:
    metrics = ServingMetrics()
    gate = threading.Event()
    scorer = ShadowScorer(metrics, lambda record: None, backlog=2)

    class Slow:
        uri = "model:slow/1"

        def check(self, payload: Any, policy: Any, deployment: str) -> Any:
            gate.wait(5)
            return type("Checked", (), {"rows": [[1.0]], "unseen": None})()

        def score(self, rows: Any) -> Any:
            raise ValueError("boom")

    target: Any = type("T", (), {"uri": "model:slow/1", "runner": Slow()})()
    accepted = [scorer.submit("d", f"r{i}", None, target) for i in range(5)]  # type: ignore[arg-type]
    gate.set()
    scorer.close()
    assert accepted == [True, True, False, False, False]
    text = metrics.render().decode()
    assert 'outcome="dropped"} 3.0' in text and 'outcome="failed"} 2.0' in text


def test_watcher_swaps_reuses_models_and_keeps_serving_after_a_failed_load(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    v2 = register_cancer(client, cancer, seed=1)
    deploy(client, "cancer", [route(cancer_v1)])
    loads: list[str] = []
    broken: set[str] = set()

    def load(uri: str) -> Any:
        loads.append(uri)
        if uri in broken:
            raise OSError(f"{uri}: artifact unreachable")
        return client.models.load(uri)

    metrics = ServingMetrics()
    watcher = DeploymentWatcher(client.deployments, ModelCache(load, metrics), metrics)
    watcher.sync()
    first = watcher.tables["cancer"]
    client.deployments.canary("cancer", v2.uri, 20)
    watcher.sync()
    second = watcher.tables["cancer"]
    assert (first.revision, second.revision) == (1, 2)
    assert loads == [cancer_v1.uri, v2.uri]  # v1 was reused, not loaded again
    assert second.targets[0].runner is first.targets[0].runner
    assert watcher.previous["cancer"] is first

    v3 = register_cancer(client, cancer, seed=2)
    broken.add(v3.uri)
    client.deployments.blue_green("cancer", v3.uri, smoke_test=False)
    watcher.sync()
    assert watcher.tables["cancer"] is second  # still serving revision 2
    assert "could not be loaded" in watcher.problems["cancer"]
    watcher.sync()
    assert loads.count(v3.uri) == 1  # a failed revision is not retried on every poll
    broken.clear()
    watcher.clock = lambda: time.monotonic() + 3600
    watcher.sync()
    assert watcher.tables["cancer"].revision == 3 and not watcher.problems
    cached = {uri for uri in (cancer_v1.uri, v2.uri, v3.uri) if uri in watcher.cache}
    assert cached == {cancer_v1.uri, v2.uri, v3.uri}  # previous routes stay loaded
    client.deployments.rollback("cancer")
    watcher.sync()
    assert {t.uri for t in watcher.tables["cancer"].targets} == {cancer_v1.uri, v2.uri}
    assert loads.count(cancer_v1.uri) == 1  # instant rollback: nothing reloaded
