"""MLflow's logged-model and registry endpoints over HTTP, as the stock client calls them:
a logged model's folder becomes a loopml model version sealed by hash, roles hold (a
viewer's or a revoked token changes nothing), crafted ids and sources are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from loopml.config import load_settings
from loopml.errors import ArtifactCorruptedError
from loopml.sdk import Client
from tests.server.live import LiveServer, make_principal
from tests.server.mlflow.conftest import refusal
from tests.server.mlflow.folders import classifier, sklearn_folder

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def http(sqlite_server: LiveServer, role_tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {role_tokens['editor']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=headers, timeout=60) as client:
        yield client


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _run(http: httpx.Client, experiment: str) -> tuple[str, str]:
    experiment_id = _ok(http.post(f"{API}/experiments/create", json={"name": experiment}))
    run = _ok(
        http.post(f"{API}/runs/create", json={"experiment_id": experiment_id["experiment_id"]})
    )
    return experiment_id["experiment_id"], run["run"]["info"]["run_id"]


def _upload(http: httpx.Client, artifact_uri: str, folder: Path) -> None:
    base = ARTIFACTS + "/" + artifact_uri.removeprefix("mlflow-artifacts:/")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = path.relative_to(folder).as_posix()
            _ok(http.put(f"{base}/{name}", content=path.read_bytes()))


def _logged_model(http: httpx.Client, experiment: str, folder: Path) -> tuple[str, str, str]:
    """(experiment id, run id, model id) of a READY logged model holding `folder`."""
    experiment_id, run_id = _run(http, experiment)
    created = _ok(
        http.post(
            f"{API}/logged-models",
            json={"experiment_id": experiment_id, "name": "model", "source_run_id": run_id},
        )
    )["model"]["info"]
    assert created["status"] == "LOGGED_MODEL_PENDING"
    assert created["artifact_uri"].startswith(f"mlflow-artifacts:/{experiment_id}/{run_id}/")
    _upload(http, created["artifact_uri"], folder)
    model_id = created["model_id"]
    ready = _ok(
        http.patch(
            f"{API}/logged-models/{model_id}",
            json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        )
    )["model"]["info"]
    assert ready["status"] == "LOGGED_MODEL_READY" and "status_message" not in ready, ready
    return experiment_id, run_id, model_id


def test_a_logged_model_becomes_a_loopml_version(
    http: httpx.Client,
    experiment: str,
    tmp_path: Path,
    sqlite_server: LiveServer,
) -> None:
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "m", model, frame)
    experiment_id, run_id, model_id = _logged_model(http, experiment, folder)
    name = experiment + "-clf"
    _ok(
        http.patch(
            f"{API}/logged-models/{model_id}/tags", json={"tags": [{"key": "k", "value": "v"}]}
        )
    )
    _ok(
        http.post(
            f"{API}/logged-models/{model_id}/params", json={"params": [{"key": "C", "value": "1"}]}
        )
    )
    got = _ok(http.get(f"{API}/logged-models/{model_id}"))["model"]
    assert got["info"]["tags"] == [{"key": "k", "value": "v"}]
    assert got["data"]["params"] == [{"key": "C", "value": "1"}]
    searched = _ok(
        http.post(
            f"{API}/logged-models/search",
            json={"experiment_ids": [experiment_id], "filter": "name = 'model'"},
        )
    )
    assert [m["info"]["model_id"] for m in searched["models"]] == [model_id]
    _ok(
        http.post(
            f"{API}/runs/outputs", json={"run_id": run_id, "models": [{"model_id": model_id}]}
        )
    )

    _ok(http.post(f"{API}/registered-models/create", json={"name": name}))
    again = http.post(f"{API}/registered-models/create", json={"name": name})
    assert "already exists" in refusal(again, 400, "RESOURCE_ALREADY_EXISTS")
    created = _ok(
        http.post(
            f"{API}/model-versions/create",
            json={
                "name": name,
                "source": f"models:/{model_id}",
                "run_id": run_id,
                "model_id": model_id,
                "tags": [{"key": "team", "value": "risk"}],
            },
        )
    )["model_version"]
    assert (created["version"], created["run_id"], created["model_id"]) == ("1", run_id, model_id)
    assert created["source"] == f"models:/{model_id}" and created["status"] == "READY"
    assert created["tags"] == [{"key": "team", "value": "risk"}]

    where = _ok(
        http.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": 1})
    )["artifact_uri"]
    assert where == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts/mlflow-models/{model_id}"
    listed = _ok(http.get(ARTIFACTS, params={"path": where.removeprefix("mlflow-artifacts:/")}))
    assert {f["path"] for f in listed["files"]} == {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "input_example.json",
        "loopml-model.json",
    }
    root = _ok(http.get(ARTIFACTS, params={"path": f"{experiment_id}/{run_id}/artifacts"}))
    assert root == {"files": []}  # logged models are not run artifacts in MLflow's listing

    found = _ok(http.get(f"{API}/model-versions/search", params={"filter": f"name = '{name}'"}))
    assert [v["version"] for v in found["model_versions"]] == ["1"]
    by_run = _ok(
        http.get(f"{API}/model-versions/search", params={"filter": f"run_id = '{run_id}'"})
    )
    assert [v["name"] for v in by_run["model_versions"]] == [name]
    latest = _ok(http.post(f"{API}/registered-models/get-latest-versions", json={"name": name}))
    assert [v["version"] for v in latest["model_versions"]] == ["1"]
    _ok(
        http.post(
            f"{API}/model-versions/set-tag",
            json={"name": name, "version": "1", "key": "ok", "value": "yes"},
        )
    )
    _ok(
        http.request(
            "DELETE",
            f"{API}/model-versions/delete-tag",
            json={"name": name, "version": "1", "key": "team"},
        )
    )
    _ok(
        http.patch(
            f"{API}/model-versions/update",
            json={"name": name, "version": "1", "description": "first"},
        )
    )
    _ok(http.patch(f"{API}/registered-models/update", json={"name": name, "description": "clf"}))
    registered = _ok(http.get(f"{API}/registered-models/get", params={"name": name}))
    assert registered["registered_model"]["description"] == "clf"
    assert registered["registered_model"]["latest_versions"][0]["tags"] == [
        {"key": "ok", "value": "yes"}
    ]
    like = _ok(
        http.get(f"{API}/registered-models/search", params={"filter": f"name LIKE '{experiment}%'"})
    )
    assert [m["name"] for m in like["registered_models"]] == [name]

    local = Client(load_settings(sqlite_server.root))
    try:
        version = local.models.get(f"{name}/1")
        assert (version.flavor, version.run_id, version.description) == ("sklearn", run_id, "first")
        assert version.signature is not None
        assert [c["type"] for c in version.signature["inputs"]] == ["float", "float"]
        loaded = local.models.load(f"{name}/1")
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        page = local.audit.events(max_results=1000)
        events = [(e.action, e.actor) for e in page if e.object.startswith(f"model:{name}")]
    finally:
        local.close()
    assert {a for a, _ in events} >= {
        "model.create",
        "model.register",
        "model.tag",
        "model.describe",
    }
    assert {actor for _, actor in events} == {f"editor-{sqlite_server.port}"}  # the token's


def test_a_pickle_replaced_after_registration_is_never_loaded(
    http: httpx.Client, experiment: str, tmp_path: Path, sqlite_server: LiveServer
) -> None:
    model, frame = classifier()
    _, _, model_id = _logged_model(http, experiment, sklearn_folder(tmp_path / "m", model, frame))
    name = experiment + "-swap"
    _ok(
        http.post(
            f"{API}/model-versions/create", json={"name": name, "source": f"models:/{model_id}"}
        )
    )
    where = _ok(
        http.get(f"{API}/model-versions/get-download-uri", params={"name": name, "version": 1})
    )["artifact_uri"]
    _ok(http.put(f"{ARTIFACTS}/{where.removeprefix('mlflow-artifacts:/')}/model.pkl", content=b"x"))
    local = Client(load_settings(sqlite_server.root))
    try:
        with pytest.raises(ArtifactCorruptedError, match=r"model\.pkl"):
            local.models.load(f"{name}/1")
    finally:
        local.close()


def test_what_loopml_cannot_register_is_refused_with_the_reason(
    http: httpx.Client, experiment: str, tmp_path: Path
) -> None:
    model, frame = classifier()
    other = {"python_function": {"loader_module": "mlflow.pytorch", "model_path": "data"}}
    folder = sklearn_folder(tmp_path / "torch", model, frame, flavors=other)
    experiment_id, run_id, model_id = _logged_model_unchecked(http, experiment, folder)
    info = _ok(http.get(f"{API}/logged-models/{model_id}"))["model"]["info"]
    assert "loopml imports scikit-learn models" in info["status_message"]
    refused = http.post(
        f"{API}/model-versions/create",
        json={"name": experiment + "-t", "source": f"models:/{model_id}"},
    )
    assert "scikit-learn" in refusal(refused, 422, "INVALID_PARAMETER_VALUE")

    pending = _ok(
        http.post(
            f"{API}/logged-models", json={"experiment_id": experiment_id, "source_run_id": run_id}
        )
    )["model"]["info"]["model_id"]
    early = http.post(
        f"{API}/model-versions/create",
        json={"name": experiment + "-t", "source": f"models:/{pending}"},
    )
    assert "not finished" in refusal(early, 422, "INVALID_PARAMETER_VALUE")
    runless = http.post(f"{API}/logged-models", json={"experiment_id": experiment_id})
    assert "mlflow.start_run()" in refusal(runless, 422, "INVALID_PARAMETER_VALUE")
    for crafted in ("m-../../x", "m-00000000-0000000000000000", f"{model_id}/../x"):
        missing = http.get(f"{API}/logged-models/{crafted}")
        assert missing.status_code == 404, (crafted, missing.text)
    elsewhere = http.post(
        f"{API}/model-versions/create",
        json={"name": experiment + "-t", "source": "s3://bucket/model"},
    )
    assert "loopml registers models logged to this server" in refusal(
        elsewhere, 422, "INVALID_PARAMETER_VALUE"
    )
    empty = http.post(
        f"{API}/model-versions/create",
        json={"name": experiment + "-t", "source": f"runs:/{run_id}/none"},
    )
    assert "no MLflow model" in refusal(empty, 404, "RESOURCE_DOES_NOT_EXIST")
    for path, method in (
        ("/registered-models/rename", "POST"),
        ("/registered-models/delete", "DELETE"),
    ):
        kept = http.request(method, f"{API}{path}", json={"name": experiment + "-t"})
        refusal(kept, 404, "RESOURCE_DOES_NOT_EXIST")  # the model was never created


def _logged_model_unchecked(
    http: httpx.Client, experiment: str, folder: Path
) -> tuple[str, str, str]:
    experiment_id, run_id = _run(http, experiment)
    created = _ok(
        http.post(
            f"{API}/logged-models", json={"experiment_id": experiment_id, "source_run_id": run_id}
        )
    )["model"]["info"]
    _upload(http, created["artifact_uri"], folder)
    model_id = created["model_id"]
    _ok(http.patch(f"{API}/logged-models/{model_id}", json={"status": "LOGGED_MODEL_READY"}))
    return experiment_id, run_id, model_id


def test_a_registry_kept_by_loopml_refuses_renames_deletes_and_stages(
    http: httpx.Client, experiment: str, tmp_path: Path
) -> None:
    model, frame = classifier()
    _, _, model_id = _logged_model(http, experiment, sklearn_folder(tmp_path / "m", model, frame))
    name = experiment + "-kept"
    _ok(
        http.post(
            f"{API}/model-versions/create", json={"name": name, "source": f"models:/{model_id}"}
        )
    )
    renamed = http.post(f"{API}/registered-models/rename", json={"name": name, "new_name": "x"})
    assert "not renamed or deleted" in refusal(renamed, 400, "INVALID_PARAMETER_VALUE")
    deleted = http.request("DELETE", f"{API}/registered-models/delete", json={"name": name})
    refusal(deleted, 400, "INVALID_PARAMETER_VALUE")
    tagged = http.post(
        f"{API}/registered-models/set-tag", json={"name": name, "key": "a", "value": "b"}
    )
    assert "tag versions" in refusal(tagged, 400, "INVALID_PARAMETER_VALUE")
    gone = http.request(
        "DELETE", f"{API}/model-versions/delete", json={"name": name, "version": "1"}
    )
    assert "loopml models state" in refusal(gone, 400, "INVALID_PARAMETER_VALUE")
    staged = http.post(
        f"{API}/model-versions/transition-stage",
        json={"name": name, "version": "1", "stage": "Production"},
    )
    assert "aliases" in refusal(staged, 400, "INVALID_PARAMETER_VALUE")
    champion = http.request(
        "DELETE", f"{API}/registered-models/alias", json={"name": name, "alias": "champion"}
    )
    assert "protected" in refusal(champion, 409, "INVALID_PARAMETER_VALUE")
    assert _ok(http.get(f"{API}/model-versions/get", params={"name": name, "version": "1"}))


def test_a_viewers_mlflow_token_changes_nothing_in_the_registry(
    http: httpx.Client,
    experiment: str,
    tmp_path: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
) -> None:
    model, frame = classifier()
    experiment_id, run_id, model_id = _logged_model(
        http, experiment, sklearn_folder(tmp_path / "m", model, frame)
    )
    name = experiment + "-own"
    _ok(
        http.post(
            f"{API}/model-versions/create", json={"name": name, "source": f"models:/{model_id}"}
        )
    )
    viewer = {"authorization": f"Bearer {role_tokens['viewer']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=viewer, timeout=60) as mine:
        assert _ok(mine.get(f"{API}/model-versions/get", params={"name": name, "version": "1"}))
        one = {"name": name, "version": "1"}
        attempts = [
            ("POST", "/registered-models/create", {"name": name + "-v"}),
            ("POST", "/model-versions/create", {"name": name, "source": f"models:/{model_id}"}),
            ("POST", "/registered-models/alias", {**one, "alias": "staging"}),
            ("POST", "/registered-models/alias", {**one, "alias": "champion"}),
            ("PATCH", "/model-versions/update", {**one, "description": "x"}),
            ("POST", "/model-versions/set-tag", {**one, "key": "a", "value": "b"}),
            ("POST", "/logged-models", {"experiment_id": experiment_id, "source_run_id": run_id}),
            ("PATCH", f"/logged-models/{model_id}", {"status": "LOGGED_MODEL_UPLOAD_FAILED"}),
        ]
        for method, path, body in attempts:
            answer = mine.request(method, API + path, json=body)
            assert "needs the editor role" in refusal(answer, 403, "PERMISSION_DENIED")
        absent = mine.get(f"{API}/registered-models/get", params={"name": name + "-v"})
        refusal(absent, 404, "RESOURCE_DOES_NOT_EXIST")
        kept = _ok(mine.get(f"{API}/model-versions/get", params={"name": name, "version": "1"}))
        assert kept["model_version"]["aliases"] == [] and kept["model_version"]["description"] == ""
        assert _ok(mine.get(f"{API}/logged-models/{model_id}"))["model"]["info"]["status"] == (
            "LOGGED_MODEL_READY"
        )
        latest = mine.post(f"{API}/registered-models/get-latest-versions", json={"name": name})
        assert [v["version"] for v in _ok(latest)["model_versions"]] == ["1"]
    local = Client(load_settings(sqlite_server.root))
    try:
        assert list(local.approvals.list(name)) == []  # not even an approval request opened
    finally:
        local.close()


def test_a_revoked_mlflow_token_cannot_register(
    sqlite_server: LiveServer, role_tokens: dict[str, str], experiment: str
) -> None:
    admin = {"authorization": f"Bearer {role_tokens['admin']}"}
    token = make_principal(sqlite_server, role_tokens["admin"], "mlflow-" + experiment, "editor")
    mine = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sqlite_server.url, timeout=30) as http:
        _ok(http.post(f"{API}/registered-models/create", headers=mine, json={"name": experiment}))
        events = _ok(http.get("/api/v1/audit/events", headers=admin, params={"limit": 1000}))
        token_id = [
            e["details"]["token_id"]
            for e in events["events"]
            if e["action"] == "token.create" and e["object"] == f"principal:mlflow-{experiment}"
        ][-1]
        _ok(http.delete(f"/api/v1/auth/tokens/{token_id}", headers=admin))
        answer = http.post(
            f"{API}/registered-models/create", headers=mine, json={"name": experiment + "-2"}
        )  # revocation through the server takes effect at once
        assert "unknown or revoked" in refusal(answer, 401, "UNAUTHENTICATED")
        alias = http.post(
            f"{API}/registered-models/alias",
            headers=mine,
            json={"name": experiment, "alias": "staging", "version": "1"},
        )
        refusal(alias, 401, "UNAUTHENTICATED")
        absent = http.get(
            f"{API}/registered-models/get", headers=admin, params={"name": experiment + "-2"}
        )
        refusal(absent, 404, "RESOURCE_DOES_NOT_EXIST")
