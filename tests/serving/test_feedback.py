"""Feedback as an attacker sends it: forged ids, junk labels, unknown classes, re-labels."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import r2_score
from sqlalchemy import select

from loopml.monitoring.performance import performance
from loopml.prediction_log import PredictionLog
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from loopml.store.schema import audit_events
from tests.deployments.helpers import bike_hours, register_ridge
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio

FORGED = 700


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_forged_labels_are_refused_and_a_regression_monitor_stays_regression(
    client: Client,
) -> None:
    hours = bike_hours()
    ridge = register_ridge(client, hours, "bikes", alpha=1.0)
    deploy(client, "bikes", [route(ridge)])
    predict = client.deployments.tokens.create("bikes", ["predict"]).token
    feedback = client.deployments.tokens.create("bikes", ["feedback"]).token
    rng = random.Random(11)
    answered: list[str] = []
    async with serve(create_app(client, ["bikes"])) as http:
        for start in range(0, 200, 5):  # honest traffic and its true outcomes
            rows = hours.x.iloc[start : start + 5].to_dict("records")
            r = await http.post(
                "/v1/deployments/bikes/predict", json={"records": rows}, headers=bearer(predict)
            )
            assert r.status_code == 200, r.text
            request_id = r.json()["request_id"]
            answered.append(request_id)
            truth = [float(v) for v in hours.y.iloc[start : start + 5]]
            r = await http.post(
                "/v1/deployments/bikes/feedback",
                json={"request_id": request_id, "labels": truth},
                headers=bearer(feedback),
            )
            assert r.status_code == 200 and r.json()["version"] == 1, r.text
        statuses: dict[int, int] = {}
        for i in range(FORGED):  # the attack, even with a stolen feedback token
            kind = i % 4
            if kind == 0:  # request ids never answered
                body = {"request_id": f"req-forged-{i}", "labels": [0.0] * 5}
            elif kind == 1:  # junk that would switch the monitor to classification
                body = {"request_id": rng.choice(answered), "label": rng.choice(["x", "ok", ""])}
            elif kind == 2:
                body = {"request_id": rng.choice(answered), "labels": [None, True, [], {}, "1"]}
            else:  # absurd or malformed numbers, and the wrong number of labels
                body = {"request_id": rng.choice(answered), "labels": [1.0] * rng.choice([1, 4, 6])}
            r = await http.post(
                "/v1/deployments/bikes/feedback", json=body, headers=bearer(feedback)
            )
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code in (404, 409, 422), (body, r.text)
            assert r.json()["detail"][0]["hint"]
        anonymous = {"request_id": answered[0], "label": 1.0}
        assert (
            await http.post("/v1/deployments/bikes/feedback", json=anonymous)
        ).status_code == 401
    assert statuses == {404: FORGED // 4, 409: FORGED // 4, 422: FORGED // 2}
    with PredictionLog(client.stores) as log:
        labelled = log.labelled("bikes")
        assert len(log.feedback("bikes")) == 200  # not one forged label was kept
    assert len(labelled) == 200
    result = performance(labelled)
    assert result.task == "regression" and result.metrics["r2"] is not None
    model = client.models.load("model:bikes/1")
    honest = r2_score(hours.y.iloc[:200], model.predict(hours.x.iloc[:200]))
    assert result.metrics["r2"] == pytest.approx(honest)  # what the model earned, unpoisoned
    with client.stores.engine.connect() as conn:
        summary = conn.execute(
            select(audit_events.c.details).where(audit_events.c.action == "feedback.summary")
        ).scalar_one()
    assert summary["labels"] == 40 and summary["refused"] == FORGED + 0  # 401s are not counted


async def test_a_classifier_refuses_unknown_classes_and_keeps_every_label_version(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    deploy(client, "other", [route(cancer_v1)])
    url = "/v1/deployments/cancer/feedback"
    async with serve(create_app(client, ["cancer", "other"], auth="open")) as http:
        r = await http.post("/v1/deployments/cancer/predict", json=cancer.records(1))
        request_id = r.json()["request_id"]
        r = await http.post("/v1/deployments/other/predict", json=cancer.records(1))
        elsewhere = r.json()["request_id"]
        for label in (2, "benign", True, 0.5, None, [0]):
            r = await http.post(url, json={"request_id": request_id, "label": label})
            assert r.status_code == 422, (label, r.text)
            assert "0, 1" in r.json()["detail"][0]["hint"]
        r = await http.post(url, json={"request_id": elsewhere, "label": 1})
        assert r.status_code == 404 and "answered no request" in r.text
        r = await http.post(url, json={"request_id": request_id, "label": 1, "note": "x"})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "note"
        versions = []
        for label in (1, 0, 1.0):
            r = await http.post(url, json={"request_id": request_id, "label": label})
            assert r.status_code == 200, r.text
            versions.append(r.json()["version"])
        assert versions == [1, 2, 3]
    with PredictionLog(client.stores) as log:
        history = log.feedback("cancer")
        assert history["version"].tolist() == [1, 2, 3]  # every label kept
        assert log.labelled("cancer")["label"].tolist() == [1.0]  # the latest wins


async def test_feedback_for_an_answer_of_an_earlier_process_is_found_in_the_log(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        r = await http.post("/v1/deployments/cancer/predict", json=cancer.records(3))
        request_id = r.json()["request_id"]
        r = await http.post(
            "/v1/deployments/cancer/feedback", json={"request_id": request_id, "label": 1}
        )
        assert r.json()["version"] == 1
    async with serve(create_app(client, ["cancer"], auth="open")) as http:  # a restart
        url = "/v1/deployments/cancer/feedback"
        r = await http.post(url, json={"request_id": request_id, "labels": [1, 0]})
        assert r.status_code == 409 and "3 row(s)" in r.text
        r = await http.post(url, json={"request_id": request_id, "labels": [1, 0, 1]})
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        r = await http.post(url, json={"request_id": "req-never", "label": 1})
        assert r.status_code == 404
