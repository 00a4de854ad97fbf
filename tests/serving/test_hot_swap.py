"""Hot swap under load and replicas following the store, on real sockets (uvicorn)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from loopml.sdk import Client
from loopml.serving import create_app
from tests.deployments.helpers import open_traffic
from tests.serving.conftest import Cancer, deploy, register_cancer, route
from tests.serving.live import Load, live_server, wait_for_revision

pytestmark = pytest.mark.slow


def test_rollout_under_load_drops_nothing(client: Client, cancer: Cancer) -> None:
    v1, v2, v3 = (register_cancer(client, cancer, seed=s) for s in range(3))
    deploy(client, "cancer", [route(v1)])
    app = create_app(client, ["cancer"], poll_interval_s=0.05, auth="open")
    body = {"records": cancer.records(1)}
    with live_server(app) as url, Load(f"{url}/v1/deployments/cancer/predict", body) as load:
        load.wait_for(0, 50)
        steps: list[tuple[Callable[[], object], set[str]]] = [
            (lambda: client.deployments.canary("cancer", v2.uri, 10), {v1.uri, v2.uri}),
            (lambda: client.deployments.canary("cancer", v2.uri, 50), {v1.uri, v2.uri}),
            (lambda: client.deployments.blue_green("cancer", v3.uri), {v3.uri}),
        ]
        for change, expected in steps:
            revision = change().revision  # type: ignore[attr-defined]
            seen = wait_for_revision(url, "cancer", revision)
            answers = load.wait_for(seen, 200)
            models = Counter(a.model for a in answers)
            assert set(models) == expected, (revision, models)
    assert load.failures == []
    assert load.sent == len(load.answers) > 600
    assert {a.status for a in load.answers} == {200}


def test_replicas_follow_a_route_change(make_client: Callable[..., Client], cancer: Cancer) -> None:
    first = open_traffic(make_client())
    second = make_client(root=first.settings.root)
    v1, v2 = (register_cancer(first, cancer, seed=s) for s in range(2))
    deploy(first, "cancer", [route(v1)])
    apps = [create_app(c, ["cancer"], poll_interval_s=0.2, auth="open") for c in (first, second)]
    with live_server(apps[0]) as url_a, live_server(apps[1]) as url_b:
        changed = time.monotonic()
        revision = first.deployments.blue_green("cancer", v2.uri).revision
        for url in (url_a, url_b):
            seen = wait_for_revision(url, "cancer", revision, timeout=5)
            assert seen - changed < 3
            r = httpx.post(f"{url}/v1/deployments/cancer/predict", json=cancer.records(1))
            assert r.json()["model"] == v2.uri
