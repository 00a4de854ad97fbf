"""A model logged by MLflow (its own folder: MLmodel and a pickle), sealed and registered
by loopml's MLflow API, is deployed and served by `loopml serve` like any other version:
requests are checked against the signature MLflow recorded, answers equal the model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.sdk import Client
from loopml.server.mlflow.model_import import seal
from loopml.serving import create_app
from tests.server.mlflow.folders import classifier, sklearn_folder
from tests.serving.conftest import serve

pytestmark = pytest.mark.anyio


async def test_an_mlflow_logged_model_is_served(client: Client, tmp_path: Path) -> None:
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "model", model, frame)
    with client.start_run("mlflow-served", capture_code=False) as run:
        run.log_artifact(folder, "model")  # where an MLflow 2 client puts it
        seal(client, run.id, "model")
        version = client.models.register("mlflow-served", run.id, "model")
    assert version.flavor == "sklearn" and version.signature is not None
    client.deployments.create("mlflow-served", version.uri)
    records = frame.head(20).to_dict(orient="records")
    async with serve(create_app(client, ["mlflow-served"], auth="open")) as http:
        answer = await http.post("/v1/deployments/mlflow-served/predict", json=records)
        missing = await http.post(
            "/v1/deployments/mlflow-served/predict", json=[{"x": 1.0, "z": "warm"}]
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model.predict(frame.head(20)).tolist()
    assert missing.status_code == 422, missing.text
    assert "z" in missing.text
