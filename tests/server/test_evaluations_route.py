"""Evaluating a registered version over the API: scored on the server, stored with the
version and audited; refused to a viewer and for data that does not fit."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from loopml.sdk import RemoteClient, RemoteOptions
from tests.server.conftest import register_versions
from tests.server.live import LiveServer

pytestmark = pytest.mark.slow


def test_a_version_is_evaluated_on_the_server(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    model = "ev-" + uuid.uuid4().hex[:8]
    options = RemoteOptions(journal_dir=tmp_path / "journal", retry_s=30)
    client = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    try:
        register_versions(client, model)  # trained on dataset <model>-train, target bikers
    finally:
        client.close()
    route = f"/models/{model}/versions/1/evaluations"
    body = {"dataset": f"{model}-train", "target": "bikers", "sensitive": ["workingday"]}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", timeout=120) as http:
        editor = {"authorization": f"Bearer {role_tokens['editor']}"}
        viewer = {"authorization": f"Bearer {role_tokens['viewer']}"}
        refused = http.post(route, json=body, headers=viewer)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        answer = http.post(route, json=body, headers=editor)
        assert answer.status_code == 201, answer.text
        result = answer.json()
        assert result["task"] == "regression" and result["rows"] == 300
        assert result["dataset"] == f"dataset:{model}-train@1"
        assert result["metrics"]["rmse"] > 0 and -1 <= result["metrics"]["r2"] <= 1
        assert result["fairness"]
        card = http.get(f"/models/{model}/versions/1/card", headers=viewer).json()
        assert card["evaluations"] == [{"dataset": result["dataset"], "metrics": result["metrics"]}]
        assert card["fairness"] == result["fairness"]

        def evaluated() -> int:
            params = {"object": f"model:{model}"}
            events = http.get("/audit/events", params=params, headers=viewer).json()["events"]
            return sum(e["action"] == "model.evaluate" for e in events)

        assert evaluated() == 1
        dry = http.post(route, json={**body, "store": False}, headers=editor)
        assert dry.status_code == 200 and dry.json()["metrics"] == result["metrics"]
        missing = http.post(route, json={**body, "sensitive": ["nope"]}, headers=editor)
        assert missing.status_code == 422 and "nope" in missing.json()["detail"]
        unknown = http.post(route, json={**body, "dataset": "no-such-data"}, headers=editor)
        assert unknown.status_code == 404
        assert evaluated() == 1  # neither the dry run nor the refusals stored anything
