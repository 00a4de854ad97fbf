"""Rollouts on real traffic: the serving app answers, logs and takes feedback; the rollout
reads that log and moves the traffic the app serves next."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from loopml.deployments import Route
from loopml.registry import ModelVersion
from loopml.registry.packaging import infer_signature
from loopml.rollouts import RolloutPlan
from loopml.sdk import Client
from loopml.serving import create_app
from tests.deployments.conftest import Register
from tests.deployments.helpers import BikeHours
from tests.serving.conftest import serve

pytestmark = pytest.mark.anyio

NAME = "bikes-api"
URL = f"/v1/deployments/{NAME}/predict"
# A few dozen requests per side: rmse varies with the rows each side happens to get, so the
# candidate may be up to twice as bad here; the inflating candidate is several times worse.
PLAN = RolloutPlan(
    steps=(50, 100), hold_s=0, min_requests=10, min_labelled=10, max_accuracy_drop=1.0
)


class Inflates:
    """A python-flavor model whose feature pipeline went wrong: it predicts 400 bikers for
    every hour (the winter hours average about 80)."""

    def predict(self, X: Any) -> Any:
        return np.full(len(X), 400.0)


def register_inflating(client: Client, hours: BikeHours) -> ModelVersion:
    with client.start_run("bikes", "inflates", capture_code=False) as run:
        version = run.log_model(
            Inflates(),
            name="bikes",
            input_example=hours.x,
            signature=infer_signature(hours.x),
            flavor="python",
            register=True,
        )
    assert isinstance(version, ModelVersion)
    return version


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _traffic(
    client: Client, hours: BikeHours, requests: int, *, feedback: bool = False
) -> Counter[tuple[int, str]]:
    """Send `requests` one-row requests through the app (and their true labels); returns
    (status, answering version) counts."""
    seen: Counter[tuple[int, str]] = Counter()
    app = create_app(client, [NAME], poll_interval_s=0.1, auth="open")
    async with serve(app) as http:
        for i in range(requests):
            row = hours.x.iloc[[i]].to_dict(orient="records")
            request_id = f"r-{time.time_ns()}-{i}"
            response = await http.post(URL, json=row, headers={"X-Request-Id": request_id})
            version = response.json().get("model", "") if response.status_code == 200 else ""
            seen[(response.status_code, version)] += 1
            if feedback and response.status_code == 200:
                label = {"request_id": request_id, "label": float(hours.y.iloc[i])}
                assert (await http.post(f"/v1/deployments/{NAME}/feedback", json=label)).is_success
    return seen


async def test_a_candidate_that_errors_is_rolled_back_and_the_app_follows(
    client: Client,
    register: Register,
    broken: Callable[[Client], ModelVersion],
    hours: BikeHours,
) -> None:
    register(client)
    bad = broken(client)
    client.deployments.create(NAME, "bikes/1")
    rollout = client.rollouts.start(NAME, bad.uri, PLAN)
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 50), Route("bikes", 2, 50)]

    seen = await _traffic(client, hours, 60)
    assert {status for status, _ in seen} == {200, 500}  # both versions took traffic

    failed = client.rollouts.advance(NAME)
    assert failed.action == "rollback" and failed.rollout.id == rollout.id
    assert failed.analysis is not None and failed.analysis.error_rate == 1.0
    assert failed.rollout.reasons[0].startswith("error rate 100.00%")
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]

    after = await _traffic(client, hours, 20)
    assert set(after) == {(200, "model:bikes/1")}


async def test_a_less_accurate_candidate_is_rolled_back_on_feedback(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client)
    worse = register_inflating(client, hours)
    client.deployments.create(NAME, "bikes/1")
    client.rollouts.start(NAME, worse.uri, PLAN)

    seen = await _traffic(client, hours, 80, feedback=True)
    assert {version for _, version in seen} == {"model:bikes/1", "model:bikes/2"}

    failed = client.rollouts.advance(NAME)
    assert failed.action == "rollback", failed.to_dict()
    analysis = failed.analysis
    assert analysis is not None and analysis.metric == "rmse" and analysis.errors == 0
    assert (analysis.candidate_value or 0) > (analysis.stable_value or 0) * 2
    assert client.deployments.get(NAME).routes == [Route("bikes", 1, 100)]
    assert "champion" not in client.models.model("bikes").aliases


async def test_a_good_candidate_is_promoted_on_live_traffic(
    client: Client, register: Register, hours: BikeHours
) -> None:
    register(client, 2)  # alpha 1 and 2: equally good
    client.models.set_policy("bikes", {"auto_approve": True})
    client.deployments.create(NAME, "bikes/1")
    client.rollouts.start(NAME, "bikes/2", PLAN)

    await _traffic(client, hours, 100, feedback=True)
    moved = client.rollouts.advance(NAME)
    assert moved.action == "step", moved.to_dict()
    assert moved.rollout.weight == 100

    seen = await _traffic(client, hours, 30, feedback=True)
    assert set(seen) == {(200, "model:bikes/2")}
    done = client.rollouts.advance(NAME)
    assert done.action == "promote", done.to_dict()
    assert client.models.get("bikes@champion").version == 2
    assert client.deployments.get(NAME).routes == [Route("bikes", 2, 100)]
