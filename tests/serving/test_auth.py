"""The data plane refuses callers without the right deployment token (attack by attack)."""

from __future__ import annotations

import asyncio
import time

import pytest

from loopml.prediction_log import PredictionLog
from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving import create_app
from tests.serving.conftest import Cancer, deploy, route, serve

pytestmark = pytest.mark.anyio

PREDICT = "/v1/deployments/cancer/predict"
FEEDBACK = "/v1/deployments/cancer/feedback"


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_anonymous_forged_and_misscoped_calls_are_refused(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    deploy(client, "other", [route(cancer_v1)])
    tokens = client.deployments.tokens
    predict = tokens.create("cancer", ["predict"]).token
    feedback = tokens.create("cancer", ["feedback"]).token
    elsewhere = tokens.create("other", ["predict", "feedback"]).token
    records = cancer.records(1)
    async with serve(create_app(client, ["cancer", "other"])) as http:
        r = await http.post(PREDICT, json=records)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert "loopml deploy token create cancer --scope predict" in r.json()["detail"][0]["hint"]
        for forged in ("lmd_forged", "", "Basic abc"):
            r = await http.post(PREDICT, json=records, headers={"Authorization": forged})
            assert r.status_code == 401, forged
        r = await http.post(PREDICT, json=records, headers=bearer(feedback))
        assert r.status_code == 403 and "does not allow predict" in r.text
        r = await http.post(PREDICT, json=records, headers=bearer(elsewhere))
        assert r.status_code == 403 and "'cancer'" in r.text
        r = await http.post("/invocations", json=records, headers=bearer(predict))
        assert r.status_code == 400  # two deployments served: ambiguous, but not refused for auth
        answered = await http.post(PREDICT, json=records, headers=bearer(predict))
        assert answered.status_code == 200, answered.text
        label = {"request_id": answered.json()["request_id"], "label": 1}
        assert (await http.post(FEEDBACK, json=label)).status_code == 401
        assert (await http.post(FEEDBACK, json=label, headers=bearer(predict))).status_code == 403
        r = await http.post(FEEDBACK, json=label, headers=bearer(feedback))
        assert r.status_code == 200, r.text
        for open_route in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await http.get(open_route)).status_code == 200


async def test_refused_callers_do_not_reach_the_prediction_log(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous traffic must not inflate the error rate that rollouts and monitors read."""
    deploy(client, "cancer", [route(cancer_v1)])
    seen: list[object] = []
    monkeypatch.setattr(PredictionLog, "record", lambda self, rec: seen.append(rec))
    async with serve(create_app(client, ["cancer"])) as http:
        for _ in range(50):
            assert (await http.post(PREDICT, json=cancer.records(1))).status_code == 401
    assert seen == []


async def test_revocation_reaches_a_running_server_within_a_poll(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    made = client.deployments.tokens.create("cancer", ["predict"])
    brief = client.deployments.tokens.create("cancer", ["predict"], expires_in_s=1.0)
    app = create_app(client, ["cancer"], poll_interval_s=0.05)
    async with serve(app) as http:
        assert (
            await http.post(PREDICT, json=cancer.records(1), headers=bearer(made.token))
        ).is_success
        client.deployments.tokens.revoke(made.id)
        revoked_at = time.monotonic()
        status = 200
        while status == 200 and time.monotonic() - revoked_at < 10:
            await asyncio.sleep(0.02)
            r = await http.post(PREDICT, json=cancer.records(1), headers=bearer(made.token))
            status = r.status_code
        assert status == 401 and time.monotonic() - revoked_at < 1.0
        await asyncio.sleep(max(0.0, brief.expires_at - time.time()) + 0.01)  # type: ignore[operator]
        r = await http.post(PREDICT, json=cancer.records(1), headers=bearer(brief.token))
        assert r.status_code == 401  # expiry is checked per request, not per poll


async def test_open_mode_asks_for_no_token(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    deploy(client, "cancer", [route(cancer_v1)])
    async with serve(create_app(client, ["cancer"], auth="open")) as http:
        assert (await http.post(PREDICT, json=cancer.records(1))).status_code == 200
    with pytest.raises(ValueError, match="tokens, open"):
        create_app(client, auth="nobody")  # type: ignore[arg-type]
