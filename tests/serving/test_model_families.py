"""XGBoost and LightGBM models behind the REST data plane: native boosters included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, serve

pytestmark = pytest.mark.anyio
xgb = pytest.importorskip("xgboost", reason="needs the xgboost extra")
lgb = pytest.importorskip("lightgbm", reason="needs the lightgbm extra")


def _xgb_booster(cancer: Cancer) -> tuple[Any, Any, Any]:
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3},
        xgb.DMatrix(cancer.frame, cancer.target),
        num_boost_round=30,
    )
    p = booster.predict(xgb.DMatrix(cancer.frame))
    return booster, (p > 0.5).astype(int), np.column_stack([1 - p, p])


def _lgb_sklearn(cancer: Cancer) -> tuple[Any, Any, Any]:
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=7, verbose=-1)
    model.fit(cancer.frame, cancer.target)
    return model, model.predict(cancer.frame), model.predict_proba(cancer.frame)


@pytest.mark.parametrize("build", [_xgb_booster, _lgb_sklearn], ids=["xgboost", "lightgbm"])
async def test_boosters_are_served_from_arrays_and_answer_like_themselves(
    client: Client, cancer: Cancer, build: Any
) -> None:
    model, labels, proba = build(cancer)
    with client.start_run("boost", capture_code=False) as run:
        version = run.log_model(model, name="boost", input_example=cancer.frame.head(5))
    assert isinstance(version, ModelVersion)
    client.deployments.create("boost", version.uri)
    async with serve(create_app(client, ["boost"], auth="open")) as http:
        described = (await http.get("/v1/deployments/boost")).json()
        assert described["routes"][0]["input"] == "ndarray"  # no DataFrame on the hot path
        r = await http.post("/v1/deployments/boost/predict", json=cancer.records(50))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictions"] == labels[:50].tolist()
    np.testing.assert_allclose(body["probabilities"], proba[:50], rtol=1e-6)
