"""No stop-the-world pauses from the collector: the start-up heap is frozen, answers untracked."""

from __future__ import annotations

import gc

import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.serving.feedback import AnsweredRequests
from tests.serving.conftest import Cancer, deploy, route, serve


def test_remembered_answers_are_invisible_to_the_garbage_collector() -> None:
    answers = AnsweredRequests(capacity=1000)
    for i in range(2000):
        answers.add(f"req-{i}", "cancer", "model:cancer/1", 1)
    gc.collect()
    kept = list(answers._answers.values())
    assert len(kept) == 1000
    assert not any(gc.is_tracked(entry) for entry in kept)  # full collections skip them
    answered = answers.get("req-1999")
    assert answered is not None and answered.rows == 1
    assert answers.next_version(answered) == 1
    again = answers.get("req-1999")
    assert again is answered and answers.next_version(again) == 2
    assert answers.get("req-0") is None  # evicted


@pytest.mark.anyio
async def test_the_loaded_models_are_frozen_out_of_full_collections(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    gc.unfreeze()
    app = create_app(client, ["cancer"], auth="open")
    async with serve(app) as http:
        runner = app.state.serving.watcher.tables["cancer"].targets[0].runner
        assert gc.get_freeze_count() > 10_000  # modules and the model, frozen at start
        frozen = gc.get_freeze_count()
        r = await http.post("/v1/deployments/cancer/predict", json=cancer.records(2))
        assert r.status_code == 200
        gc.collect()
        assert gc.get_freeze_count() <= frozen  # requests add nothing to the frozen heap
        assert runner.model is not None
