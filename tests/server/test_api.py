"""The REST API over a real server: errors and limits, the OpenAPI document, datasets on
real data, the registry with its approvals, attribution, audit, health and metrics."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from sklearn.linear_model import Ridge
from vega_datasets import local_data

from loopml.artifacts.hashing import hash_bytes
from loopml.config import load_settings
from loopml.samples.bikeshare import DATA_FILE, bikeshare_features, load_bikeshare
from loopml.sdk import Client
from tests.server.live import LiveServer

MIB = 1024 * 1024


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error"] == code and body["detail"] and isinstance(body["hint"], str)
    return body


def test_errors_say_what_is_wrong_and_how_to_fix_it(api: dict[str, Any], experiment: str) -> None:
    editor = api["editor"]
    _error(editor.get("/no/such/route"), 404, "not_found")
    refused = editor.delete("/runs")
    _error(refused, 405, "method_not_allowed")
    assert refused.headers["allow"] == "GET, POST"  # both routes on the path, not the first
    body = _error(editor.post("/runs", content=b'{"experiment": ', headers=_JSON), 400, "malformed")
    assert "JSON" in body["detail"]
    body = _error(editor.post("/runs", json={"experiment": 3, "colour": "red"}), 422, "invalid")
    assert "colour" in body["detail"]
    body = _error(editor.get("/runs/run-0000000000"), 404, "not_found")
    assert body["detail"].startswith("no run run-0000000000")
    assert body["hint"] == "`loopml runs list` shows the runs"
    run_id = editor.post("/runs", json={"experiment": experiment, "params": {"lr": 1}}).json()["id"]
    body = _error(
        editor.post(f"/runs/{run_id}/params", json={"params": {"lr": 2}}), 409, "conflict"
    )
    assert "cannot change" in body["detail"]
    body = _error(editor.post("/runs", json={"experiment": "bad name"}), 422, "invalid")
    assert "experiment name" in body["detail"]
    _error(editor.get("/runs", params={"max_results": 0}), 422, "invalid")


_JSON = {"content-type": "application/json"}


def test_bodies_past_the_limit_are_refused(api: dict[str, Any]) -> None:
    editor = api["editor"]
    big = b'{"experiment": "' + b"x" * (17 * MIB) + b'"}'
    body = _error(editor.post("/runs", content=big, headers=_JSON), 413, "too_large")
    assert str(16 * MIB) in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"experiment": "'
        for _ in range(17):
            yield b"x" * MIB
        yield b'"}'

    _error(editor.post("/runs", content=chunks(), headers=_JSON), 413, "too_large")


def test_an_upload_whose_digest_does_not_match_stores_nothing(
    api: dict[str, Any], experiment: str
) -> None:
    editor = api["editor"]
    run_id = editor.post("/runs", json={"experiment": experiment}).json()["id"]
    data = b"the real bytes"
    wrong = hash_bytes(b"other bytes")
    answer = editor.put(
        f"/runs/{run_id}/artifacts/a.bin", content=data, headers={"x-content-blake3": wrong}
    )
    _error(answer, 422, "digest_mismatch")
    assert editor.get(f"/runs/{run_id}/artifacts").json()["artifacts"] == []
    right = editor.put(
        f"/runs/{run_id}/artifacts/a.bin",
        content=data,
        headers={"x-content-blake3": hash_bytes(data)},
    )
    assert right.status_code == 201 and right.json()["digest"] == hash_bytes(data)
    download = editor.get(f"/runs/{run_id}/artifacts/a.bin")
    assert download.content == data and download.headers["x-content-blake3"] == hash_bytes(data)


def test_the_openapi_document_describes_auth_roles_and_errors(sqlite_server: LiveServer) -> None:
    document = httpx.get(sqlite_server.url + "/openapi.json", timeout=30).json()
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if path.startswith("/api/v1/")
    ]
    assert len(operations) >= 40
    for path, method, op in operations:
        assert op["security"] == [{"bearerToken": []}], (method, path)
        assert op["x-loopml-min-role"] in ("viewer", "editor", "approver", "admin")
        error = op["responses"]["403"]["content"]["application/json"]["schema"]
        assert error["required"] == ["error", "detail", "hint"]
    upload = document["paths"]["/api/v1/runs/{run_id}/artifacts/{path}"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    for open_route in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in document["paths"][open_route]["get"]


def test_health_readiness_and_metrics(sqlite_server: LiveServer, api: dict[str, Any]) -> None:
    assert httpx.get(sqlite_server.url + "/healthz").json()["status"] == "ok"
    assert httpx.get(sqlite_server.url + "/readyz").json()["status"] == "ready"
    api["viewer"].get("/runs/run-000000000000")
    text = httpx.get(sqlite_server.url + "/metrics").text
    assert (
        'loopml_server_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="404"}'
        in text
    )
    assert "loopml_server_request_seconds_bucket" in text


def _upload(http: httpx.Client, name: str, data: bytes, filename: str, **params: Any) -> Any:
    return http.post(
        f"/datasets/{name}/versions",
        content=data,
        params={"filename": filename, **params},
        headers={"x-content-blake3": hash_bytes(data)},
    )


def test_datasets_upload_show_and_download_real_data(api: dict[str, Any], tmp_path: Path) -> None:
    """The bundled Bike Sharing file as shipped (gzip CSV), and vega's cars (missing values,
    strings, dates) as Parquet: versioned, profiled, the same bytes return the same
    version, and the files come back byte for byte."""
    editor, viewer = api["editor"], api["viewer"]
    bikes = resources.files("loopml.samples").joinpath(DATA_FILE).read_bytes()
    answer = _upload(editor, "bikes", bikes, DATA_FILE, description="hourly 2011")
    assert answer.status_code == 201, answer.text
    version = answer.json()
    assert version["row_count"] == len(load_bikeshare())
    assert version["version"] == 1 and version["created_by"] == "editor-" + _port(api)
    assert "mnth" in {c["name"] for c in version["schema"]}
    again = _upload(editor, "bikes", bikes, DATA_FILE).json()
    assert again["id"] == version["id"]  # same content, same version
    file = version["files"][0]["path"]
    download = viewer.get(f"/datasets/bikes@1/files/{file}")
    assert download.content == bikes
    assert download.headers["x-content-blake3"] == version["files"][0]["digest"]

    with warnings.catch_warnings():  # vega reads its JSON with a keyword pandas deprecates
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cars: pd.DataFrame = local_data.cars()
    assert cars.isna().any().any()
    path = tmp_path / "cars.parquet"
    cars.to_parquet(path)
    answer = _upload(editor, "cars", path.read_bytes(), "cars.parquet", time_column="Year")
    assert answer.status_code == 201, answer.text
    shown = viewer.get("/datasets/cars").json()
    assert shown["row_count"] == len(cars) and shown["time_column"] == "Year"
    assert shown["profile"]["Horsepower"]["nulls"] == int(cars["Horsepower"].isna().sum())
    changes = viewer.get("/datasets/bikes@1/diff/cars@1")
    assert changes.status_code == 200, changes.text
    assert "Horsepower" in str(changes.json()) and "mnth" in str(changes.json())
    listed = [d["name"] for d in viewer.get("/datasets").json()["datasets"]]
    assert {"bikes", "cars"} <= set(listed)
    _error(_upload(editor, "cars", b"x", "cars.exe"), 422, "invalid")
    _error(_upload(viewer, "cars", b"x", "cars.csv"), 403, "forbidden")
    _error(_upload(editor, "broken", b"\x00\x01 not parquet", "b.parquet"), 422, "invalid")
    _error(viewer.get("/datasets/bikes@9"), 404, "not_found")


def _port(api: dict[str, Any]) -> str:
    return str(api["viewer"].base_url.port)


def _logged_model(root: Path, experiment: str) -> str:
    """A run with a Ridge on the winter bike hours, logged (not registered) by a local
    client on the server's own workspace; returns the run id."""
    client = Client(load_settings(root, environ={}))
    try:
        frame = load_bikeshare()
        table = bikeshare_features(frame).head(500)
        target = frame["bikers"].head(500).astype(float)
        with client.start_run(experiment, capture_code=False) as run:
            model = Ridge().fit(table, target)
            run.log_metric("r2", float(model.score(table, target)))
            run.log_model(model, input_example=table)
        return run.id
    finally:
        client.close()


def test_models_versions_aliases_and_four_eyes_approvals(
    sqlite_server: LiveServer, api: dict[str, Any], experiment: str
) -> None:
    editor, approver, admin = api["editor"], api["approver"], api["admin"]
    name = "m-" + experiment
    run_id = _logged_model(sqlite_server.root, experiment)
    created = editor.post(f"/models/{name}/versions", json={"run_id": run_id})
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["run_id"] == run_id
    _error(editor.post(f"/models/{name}/versions", json={"run_id": "run-00ff"}), 404, "not_found")
    assert [v["version"] for v in editor.get(f"/models/{name}/versions").json()["versions"]] == [1]
    staging = editor.put(f"/models/{name}/aliases/staging", json={"version": 1})
    assert staging.json()["aliases"] == ["staging"]
    body = _error(
        editor.put(f"/models/{name}/aliases/champion", json={"version": 1}), 409, "conflict"
    )
    assert "approval request" in body["detail"]

    request = editor.post("/approvals", json={"model": f"{name}/1", "reason": "better r2"})
    assert request.status_code == 201, request.text
    request_id = request.json()["id"]
    assert request.json()["status"] == "PENDING"
    _error(editor.post(f"/approvals/{request_id}/approve", json={}), 403, "forbidden")
    own = approver.post("/approvals", json={"model": f"{name}/1", "alias": "champion"})
    assert own.status_code in (201, 409)
    decided = approver.post(f"/approvals/{request_id}/approve", json={"comment": "ok"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "APPROVED"
    assert editor.get(f"/models/{name}").json()["aliases"] == {"champion": 1, "staging": 1}
    _error(admin.post(f"/approvals/{request_id}/reject", json={}), 409, "conflict")
    actions = [
        e["action"] for e in admin.get("/audit/events", params={"limit": 50}).json()["events"]
    ]
    assert "approval.approved" in actions and "alias.move" in actions


def test_four_eyes_holds_over_the_api(
    sqlite_server: LiveServer, api: dict[str, Any], experiment: str
) -> None:
    approver = api["approver"]
    name = "solo-" + experiment
    run_id = _logged_model(sqlite_server.root, experiment)
    approver.post(f"/models/{name}/versions", json={"run_id": run_id})
    request_id = approver.post("/approvals", json={"model": f"{name}/1"}).json()["id"]
    body = _error(approver.post(f"/approvals/{request_id}/approve", json={}), 403, "forbidden")
    assert "four-eyes" in body["detail"]


def test_every_change_is_attributed_to_the_token_principal(
    api: dict[str, Any], experiment: str
) -> None:
    """Two principals creating runs at once from many threads: each run, and each audit
    event, names the principal whose token made it (no request borrows another's)."""
    results: dict[str, list[str]] = {"editor": [], "approver": []}

    def create(role: str) -> None:
        for _ in range(25):
            answer = api[role].post("/runs", json={"experiment": experiment})
            results[role].append(answer.json()["id"])

    threads = [threading.Thread(target=create, args=(r,)) for r in results for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    viewer = api["viewer"]
    for role, ids in results.items():
        assert len(ids) == 50
        for run_id in ids:
            assert viewer.get(f"/runs/{run_id}").json()["created_by"] == f"{role}-{_port(api)}"
    events = viewer.get("/audit/events", params={"limit": 500}).json()["events"]
    creators = {e["object"]: e["actor"] for e in events if e["action"] == "run.create"}
    for role, ids in results.items():
        for run_id in ids:
            assert creators["run:" + run_id[4:]] == f"{role}-{_port(api)}"
    assert viewer.get("/audit/verify").json()["ok"] is True


def test_operations_are_listed_and_unknown_ones_are_404(api: dict[str, Any]) -> None:
    viewer = api["viewer"]
    for route, key in (
        ("/deployments", "deployments"),
        ("/monitors", "monitors"),
        ("/alerts", "alerts"),
        ("/triggers", "triggers"),
        ("/models", "models"),
        ("/approvals", "requests"),
        ("/experiments", "experiments"),
        ("/rollouts", "rollouts"),
        ("/pipelines", "pipelines"),
        ("/pipeline-runs", "pipeline_runs"),
    ):
        answer = viewer.get(route)
        assert answer.status_code == 200 and isinstance(answer.json()[key], list), route
    for route in (
        "/deployments/nope",
        "/monitors/nope",
        "/monitors/nope/report",
        "/triggers/nope",
        "/models/nope",
        "/rollouts/nope",
    ):
        _error(viewer.get(route), 404, "not_found")
    _error(viewer.get("/alerts", params={"state": "sideways"}), 422, "invalid")
    whoami = viewer.get("/auth/whoami").json()
    assert whoami["role"] == "viewer" and whoami["may"] == ["read"]
