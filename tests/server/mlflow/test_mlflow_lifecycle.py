"""Deleting and restoring runs and tagging experiments through the MLflow REST subset:
deleted runs leave ACTIVE_ONLY searches and come back on restore; a viewer, a revoked
token or a crafted request changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.sdk import RemoteClient
from tests.server.live import LiveServer, make_principal
from tests.server.mlflow.conftest import run_mlflow

API = "/api/2.0/mlflow"


@pytest.fixture
def http(sqlite_server: LiveServer, role_tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {role_tokens['editor']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def viewer(sqlite_server: LiveServer, role_tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {role_tokens['viewer']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=headers, timeout=60) as client:
        yield client


def _runs(http: httpx.Client, experiment: str, count: int) -> tuple[str, list[str]]:
    experiment_id = http.post(f"{API}/experiments/create", json={"name": experiment}).json()[
        "experiment_id"
    ]
    made = [
        http.post(
            f"{API}/runs/create", json={"experiment_id": experiment_id, "run_name": f"r{i}"}
        ).json()["run"]["info"]["run_id"]
        for i in range(count)
    ]
    return experiment_id, made


def _search(http: httpx.Client, experiment_id: str, view: str | None = None) -> list[str]:
    body: dict[str, object] = {"experiment_ids": [experiment_id]}
    if view is not None:
        body["run_view_type"] = view
    answer = http.post(f"{API}/runs/search", json=body)
    assert answer.status_code == 200, answer.text
    return sorted(r["info"]["run_id"] for r in answer.json().get("runs", []))


def test_delete_and_restore_move_a_run_between_views(
    http: httpx.Client, experiment: str, sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    experiment_id, (kept, gone) = _runs(http, experiment, 2)
    assert http.post(f"{API}/runs/delete", json={"run_id": gone}).json() == {}
    assert _search(http, experiment_id) == [kept]
    assert _search(http, experiment_id, "ACTIVE_ONLY") == [kept]
    assert _search(http, experiment_id, "DELETED_ONLY") == [gone]
    assert _search(http, experiment_id, "ALL") == sorted([kept, gone])
    info = http.get(f"{API}/runs/get", params={"run_id": gone}).json()["run"]["info"]
    assert info["lifecycle_stage"] == "deleted"
    native = RemoteClient(sqlite_server.url, role_tokens["viewer"])
    try:  # loopml's own search hides it too
        assert [r.id for r in native.search_runs(experiment)] == [kept]
    finally:
        native.close()

    assert http.post(f"{API}/runs/restore", json={"run_id": gone}).json() == {}
    assert _search(http, experiment_id) == sorted([kept, gone])
    assert _search(http, experiment_id, "DELETED_ONLY") == []
    info = http.get(f"{API}/runs/get", params={"run_id": gone}).json()["run"]["info"]
    assert info["lifecycle_stage"] == "active"


def test_a_viewer_cannot_delete_restore_or_tag(
    http: httpx.Client, viewer: httpx.Client, experiment: str
) -> None:
    experiment_id, (run_id,) = _runs(http, experiment, 1)
    refused = viewer.post(f"{API}/runs/delete", json={"run_id": run_id})
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert _search(http, experiment_id) == [run_id]
    http.post(f"{API}/runs/delete", json={"run_id": run_id})
    refused = viewer.post(f"{API}/runs/restore", json={"run_id": run_id})
    assert refused.status_code == 403
    assert _search(http, experiment_id, "DELETED_ONLY") == [run_id]
    tag = {"experiment_id": experiment_id, "key": "team", "value": "x"}
    refused = viewer.post(f"{API}/experiments/set-experiment-tag", json=tag)
    assert refused.status_code == 403
    found = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    assert found.json()["experiment"]["tags"] == []


def test_a_revoked_token_changes_nothing(
    sqlite_server: LiveServer, role_tokens: dict[str, str], http: httpx.Client, experiment: str
) -> None:
    experiment_id, (run_id,) = _runs(http, experiment, 1)
    admin = {"authorization": f"Bearer {role_tokens['admin']}"}
    name = "deleter-" + experiment[-8:]
    token = make_principal(sqlite_server, role_tokens["admin"], name, "editor")
    with httpx.Client(base_url=sqlite_server.url, timeout=30) as raw:
        events = raw.get("/api/v1/audit/events", headers=admin, params={"limit": 1000}).json()
        token_id = [
            e["details"]["token_id"]
            for e in events["events"]
            if e["action"] == "token.create" and e["object"] == f"principal:{name}"
        ][-1]
        assert raw.delete(f"/api/v1/auth/tokens/{token_id}", headers=admin).status_code == 200
        mine = {"authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 1.5
        while True:
            answer = raw.post(f"{API}/runs/delete", json={"run_id": run_id}, headers=mine)
            if answer.status_code != 200 or time.monotonic() > deadline:
                break
            http.post(f"{API}/runs/restore", json={"run_id": run_id})  # undo, try again
            time.sleep(0.05)
    assert answer.status_code == 401 and answer.json()["error_code"] == "UNAUTHENTICATED"
    assert _search(http, experiment_id) == [run_id]


@pytest.mark.parametrize(
    ("route", "body", "status", "code"),
    [
        ("/runs/delete", {"run_id": "run-00000000"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/runs/restore", {}, 422, "INVALID_PARAMETER_VALUE"),
        ("/runs/search", {"run_view_type": "EVERYTHING"}, 422, "INVALID_PARAMETER_VALUE"),
        (
            "/experiments/set-experiment-tag",
            {"experiment_id": "exp-missing", "key": "a", "value": "b"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
    ],
)
def test_crafted_requests_are_refused_with_mlflow_codes(
    http: httpx.Client, route: str, body: dict[str, object], status: int, code: str
) -> None:
    answer = http.post(API + route, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code


def test_experiment_tags_are_kept_and_experiments_are_not_removed(
    http: httpx.Client, experiment: str
) -> None:
    experiment_id, _ = _runs(http, experiment, 1)
    for value in ("a", "b"):
        tag = {"experiment_id": experiment_id, "key": "team", "value": value}
        assert http.post(f"{API}/experiments/set-experiment-tag", json=tag).status_code == 200
    found = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
    assert found["experiment"]["tags"] == [{"key": "team", "value": "b"}]
    for route in ("/experiments/delete", "/experiments/restore", "/experiments/update"):
        refused = http.post(API + route, json={"experiment_id": experiment_id, "new_name": "x"})
        assert refused.status_code == 400, refused.text
        assert "delete or restore the runs instead" in refused.json()["message"]
    assert (
        http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()[
            "experiment"
        ]["name"]
        == experiment
    )


STOCK_CLIENT = """
import sys
import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType
mlflow.set_experiment(sys.argv[1])
client = MlflowClient()
experiment = client.get_experiment_by_name(sys.argv[1])
client.set_experiment_tag(experiment.experiment_id, "team", "forecast")
assert client.get_experiment(experiment.experiment_id).tags == {"team": "forecast"}
with mlflow.start_run(run_name="kept") as kept:
    pass
with mlflow.start_run(run_name="gone") as gone:
    mlflow.log_metric("loss", 0.5)
client.delete_run(gone.info.run_id)
assert client.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"
ids = lambda view: sorted(
    r.info.run_id for r in client.search_runs([experiment.experiment_id], run_view_type=view)
)
assert ids(ViewType.ACTIVE_ONLY) == [kept.info.run_id]
assert ids(ViewType.DELETED_ONLY) == [gone.info.run_id]
assert ids(ViewType.ALL) == sorted([kept.info.run_id, gone.info.run_id])
client.restore_run(gone.info.run_id)
assert ids(ViewType.ACTIVE_ONLY) == sorted([kept.info.run_id, gone.info.run_id])
print("ok")
"""


@pytest.mark.slow
def test_the_stock_clients_delete_restore_and_tag(
    any_mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    done = run_mlflow(
        any_mlflow_python,
        sqlite_server.url,
        role_tokens["editor"],
        ["-c", STOCK_CLIENT, experiment],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
