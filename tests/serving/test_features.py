"""A deployment with a feature service: requests carry entity keys, the model gets features."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from loopml.features import Entity, FeatureService, FeatureView
from loopml.prediction_log.queries import predictions_frame
from loopml.registry import ModelVersion
from loopml.registry.packaging import infer_signature
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import deploy, route, serve

pytestmark = pytest.mark.anyio
T0 = pd.Timestamp("2025-01-01", tz="UTC")


def _features_and_model(client: Client, tmp_path: Path) -> ModelVersion:
    source = tmp_path / "stations.parquet"
    pd.DataFrame(
        {
            "station": [1, 2, 1],
            "event_timestamp": [T0, T0, T0 + pd.Timedelta(hours=1)],
            "rides": [10.0, 20.0, 30.0],
            "docks": [1.0, 2.0, 3.0],
        }
    ).to_parquet(source)
    client.features.apply(
        [
            Entity("station", ["station"]),
            FeatureView(
                "stations", "station", str(source), {"rides": "float64", "docks": "float64"}
            ),
            FeatureService("bikes-model", ["stations:rides", "stations:docks"]),
        ]
    )
    client.features.materialize()
    x = pd.DataFrame({"rides": [1.0, 2.0, 3.0, 4.0], "docks": [1.0, 0.0, 2.0, 1.0]})
    model = LinearRegression().fit(x, x["rides"] * 2 + x["docks"])
    with client.start_run("bikes", capture_code=False) as run:
        version = run.log_model(model, name="bikes", signature=infer_signature(x))
    assert isinstance(version, ModelVersion)
    return version


async def test_features_are_fetched_before_predict_and_logged(
    client: Client, tmp_path: Path
) -> None:
    version = _features_and_model(client, tmp_path)
    deploy(client, "bikes", [route(version)], config={"feature_service": "bikes-model"})
    async with serve(create_app(client, ["bikes"], auth="open")) as http:
        r = await http.post(
            "/v1/deployments/bikes/predict", json={"records": [{"station": 1}, {"station": 2}]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == pytest.approx([63.0, 42.0])
        missing = await http.post("/v1/deployments/bikes/predict", json={"records": [{"id": 1}]})
        assert missing.status_code == 422
        assert "join key 'station'" in missing.text
        unnamed = await http.post("/v1/deployments/bikes/predict", json={"instances": [[1]]})
        assert unnamed.status_code == 422 and "name its columns" in unnamed.text
    logged = predictions_frame(client.stores, "bikes", since=None, until=None, include_shadow=False)
    assert logged["in_rides"].tolist() == [30.0, 20.0]  # what the model saw, per row
    assert logged["in_docks"].tolist() == [3.0, 2.0]
