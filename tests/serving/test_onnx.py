"""An ONNX version, exported from a registered model, is served like any other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loopml.registry import ModelVersion
from loopml.registry.export import export_version, register_onnx
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio


async def test_an_exported_onnx_version_serves_the_same_predictions(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, tmp_path: Path
) -> None:
    exported = export_version(
        client.models.registry, cancer_v1.uri, tmp_path, sample=cancer.frame.iloc[:100]
    )
    with client.start_run("export", capture_code=False) as run:
        onnx_version = register_onnx(run, exported, "cancer-onnx")
    assert onnx_version.flavor == "onnx"
    deploy(client, "edge", [route(onnx_version)])
    original = client.models.load(cancer_v1.uri)
    rows = cancer.records(20)
    async with serve(create_app(client, ["edge"], log_predictions=False, auth="open")) as http:
        answer = await http.post("/v1/deployments/edge/predict", json={"records": rows})
        bad = await http.post("/v1/deployments/edge/predict", json={"records": [{"x": 1}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == onnx_version.uri
    expected = original.predict(cancer.frame.iloc[:20].to_numpy())
    assert np.array_equal(np.asarray(body["predictions"]), expected)
    assert bad.status_code == 422
