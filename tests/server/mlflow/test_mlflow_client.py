"""The stock MLflow client (mlflow-skinny 3.x and 2.x, each in its own environment) against a live
`loopml server`: what MLflow users do works unchanged, the objects it makes are loopml's
own, and the token's role holds (a viewer cannot log, no token is 401, champion moves only
through an approval)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from loopml.config import load_settings
from loopml.sdk import Client, RemoteClient
from tests.server.live import LiveServer, make_principal
from tests.server.mlflow.conftest import HERE, last_json, run_mlflow

pytestmark = pytest.mark.slow
SCRIPT = HERE / "mlflow_client_script.py"


def test_mlflow_users_script_makes_native_loopml_runs(
    any_mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
    tmp_path: Path,
) -> None:
    made = last_json(
        run_mlflow(
            any_mlflow_python, sqlite_server.url, role_tokens["editor"], [str(SCRIPT), experiment]
        )
    )
    client = RemoteClient(sqlite_server.url, role_tokens["viewer"])
    try:
        parent = client.get_run(made["parent"])
        assert parent.experiment == experiment
        assert parent.name == "parent"
        assert parent.status == "FINISHED"
        assert parent.params == {"model": "gbm", "depth": "4"}
        assert parent.tags["team"] == "forecast"
        assert parent.created_by.startswith("editor-")  # the token's principal, not a claim
        history = client.metric_history(made["parent"], "loss")
        assert [(p.step, p.value) for p in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
        paths = {a["path"]: a for a in client.list_artifacts(made["parent"])}
        assert set(paths) >= {"notes.txt", "plots/curve.csv", "config/settings.json"}
        assert len(paths["notes.txt"]["digest"]) == 64  # stored by content hash
        assert client.read_artifact(made["parent"], "notes.txt") == b"hello from mlflow\n"
        children = [client.get_run(i) for i in made["children"]]
        assert {c.parent_id for c in children} == {made["parent"]}
        assert [c.metrics["rmse"] for c in children] == [3.0, 2.0, 1.0]
        assert all("temporary" not in c.tags for c in children)
        found = client.search_runs(experiment, filter="metrics.rmse < 2.5", order_by="metrics.rmse")
        assert [r.id for r in found] == made["children"][:0:-1]
        _check_native_model(client, made, sqlite_server.root)
    finally:
        client.close()


def _check_native_model(client: RemoteClient, made: dict[str, Any], workspace: Path) -> None:
    """The model MLflow logged and registered is a loopml model version: a signature,
    lineage to its run, MLflow's own files sealed by hash, and it predicts in loopml."""
    version = client.models.get(f"{made['model']}@staging")
    assert (version.version, version.run_id) == (1, made["trained"])
    assert version.flavor == "sklearn"
    assert version.signature is not None
    assert [c["name"] for c in version.signature["inputs"]] == ["x", "z"]
    assert version.card["tags"] == {"reviewed": "yes"}
    assert version.metrics["training_score"] > 0.9  # the autologged run's metrics
    trained = client.get_run(made["trained"])
    lineage = client.models.lineage(f"{made['model']}/1")
    assert lineage["run"]["uri"] == trained.uri, lineage
    assert trained.params["alpha"] == "0.5"
    files = {a["path"] for a in client.list_artifacts(made["trained"])}
    folder = version.artifact_path
    assert {f"{folder}/MLmodel", f"{folder}/model.pkl", f"{folder}/loopml-model.json"} <= files
    local = Client(load_settings(workspace))  # what `loopml serve` loads, hashes checked
    try:
        loaded = local.models.load(f"{made['model']}@staging")
    finally:
        local.close()
    assert loaded.signature is not None and loaded.signature.input_names == ["x", "z"]
    frame = pd.DataFrame({"x": [0.5, -1.0, 2.0, 0.0, 1.5], "z": [2.0, 0.5, -1.0, 0.0, 1.0]})
    np.testing.assert_allclose(loaded.predict(frame), loaded.raw.predict(frame))
    assert loaded.raw.alpha == 0.5


VIEWER_LOGS = """
import mlflow, sys
mlflow.set_experiment(sys.argv[1])
try:
    with mlflow.start_run():
        pass
except mlflow.exceptions.MlflowException as exc:
    print(exc.error_code, exc.message)
    raise SystemExit(3)
"""


def test_a_viewers_mlflow_token_cannot_log(
    any_mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    make = "import mlflow, sys; mlflow.set_experiment(sys.argv[1])"
    done = run_mlflow(
        any_mlflow_python, sqlite_server.url, role_tokens["editor"], ["-c", make, experiment]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    refused = run_mlflow(
        any_mlflow_python, sqlite_server.url, role_tokens["viewer"], ["-c", VIEWER_LOGS, experiment]
    )
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert refused.stdout.startswith("PERMISSION_DENIED"), refused.stdout
    assert "needs the editor role" in refused.stdout
    runs = RemoteClient(sqlite_server.url, role_tokens["viewer"])
    try:
        assert list(runs.search_runs(experiment)) == []
    finally:
        runs.close()


def test_the_mlflow_client_without_a_token_is_refused(
    mlflow_python: Path, sqlite_server: LiveServer, experiment: str
) -> None:
    done = run_mlflow(mlflow_python, sqlite_server.url, None, ["-c", VIEWER_LOGS, experiment])
    assert done.returncode != 0
    assert "UNAUTHENTICATED" in done.stderr, done.stderr[-2000:]
    assert "this request carries no API token" in done.stderr


ALIASES = """
import sys
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
name = sys.argv[1]
client = MlflowClient()
client.set_registered_model_alias(name, "staging", 1)
found = client.get_model_version_by_alias(name, "staging")
assert (found.version, found.aliases) == ("1", ["staging"]), found
assert client.get_registered_model(name).aliases == {"staging": "1"}
try:
    client.set_registered_model_alias(name, "champion", 1)
except MlflowException as exc:
    print(exc.error_code, exc.message)
    raise SystemExit(3)
"""


def _register(server: LiveServer, token: str, experiment: str, name: str) -> None:
    """Version 1 of `name`: a Ridge on generated data, logged through loopml's SDK."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame({"x": rng.normal(size=50), "z": rng.normal(size=50)})
    target = features["x"] * 2.0 + rng.normal(scale=0.1, size=50)
    client = RemoteClient(server.url, token)
    try:
        with client.start_run(experiment) as run:
            run.log_model(Ridge().fit(features, target), name=name, input_example=features)
    finally:
        client.close()


def test_an_mlflow_set_alias_on_champion_opens_an_approval_request(
    mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    name = "m-" + experiment
    _register(sqlite_server, role_tokens["editor"], experiment, name)
    done = run_mlflow(
        mlflow_python, sqlite_server.url, role_tokens["editor"], ["-c", ALIASES, name]
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout.startswith("PERMISSION_DENIED"), done.stdout
    assert "alias 'champion' of " + name + " is protected and was not moved" in done.stdout
    assert "loopml models approve" in done.stdout
    headers = {"authorization": f"Bearer {role_tokens['viewer']}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=headers) as http:
        model = http.get(f"/models/{name}").json()
        assert model["aliases"] == {"staging": 1}  # champion did not move
        pending = http.get("/approvals", params={"model": name, "status": "PENDING"}).json()
    requests = pending["requests"]
    assert [(r["alias"], r["version"]) for r in requests] == [("champion", 1)], pending
    assert requests[0]["id"] in done.stdout


VIEWER_REGISTERS = """
import sys
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
name, run_id = sys.argv[1], sys.argv[2]
client = MlflowClient()
assert client.get_model_version(name, "1").run_id == run_id  # a viewer reads
calls = [
    lambda: client.create_registered_model(name + "-mine"),
    lambda: client.create_model_version(name, f"runs:/{run_id}/{name}", run_id),
    lambda: client.set_registered_model_alias(name, "staging", 1),
    lambda: client.set_registered_model_alias(name, "champion", 1),
    lambda: client.delete_registered_model_alias(name, "champion"),
]
for call in calls:
    try:
        call()
    except MlflowException as exc:
        print(exc.error_code, exc.message.splitlines()[0])
    else:
        print("ALLOWED")
"""


def test_a_viewers_or_revoked_mlflow_token_changes_nothing_in_the_registry(
    mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    name = "v-" + experiment
    _register(sqlite_server, role_tokens["editor"], experiment, name)
    admin = {"authorization": f"Bearer {role_tokens['admin']}"}
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=admin) as http:
        run_id = http.get(f"/models/{name}/versions/1").json()["run_id"]
    viewer = run_mlflow(
        mlflow_python,
        sqlite_server.url,
        role_tokens["viewer"],
        ["-c", VIEWER_REGISTERS, name, run_id],
    )
    assert viewer.returncode == 0, viewer.stderr[-2000:]
    lines = viewer.stdout.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("PERMISSION_DENIED") for line in lines), lines
    assert all("needs the editor role" in line for line in lines)
    leaver = make_principal(sqlite_server, role_tokens["admin"], "leaver-" + experiment, "editor")
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=admin) as http:
        events = http.get("/audit/events", params={"limit": 1000}).json()["events"]
        token_id = [
            e["details"]["token_id"]
            for e in events
            if e["action"] == "token.create" and e["object"] == f"principal:leaver-{experiment}"
        ][-1]
        assert http.delete(f"/auth/tokens/{token_id}").status_code == 200
    revoked = run_mlflow(
        mlflow_python, sqlite_server.url, leaver, ["-c", VIEWER_REGISTERS, name, run_id]
    )
    assert revoked.returncode != 0  # the first read is refused already
    assert "UNAUTHENTICATED" in revoked.stderr and "unknown or revoked" in revoked.stderr
    with httpx.Client(base_url=sqlite_server.url + "/api/v1", headers=admin) as http:
        model = http.get(f"/models/{name}").json()
        assert model["aliases"] == {} and model["latest_version"] == 1
        assert http.get(f"/models/{name}-mine").status_code == 404
        pending = http.get("/approvals", params={"model": name}).json()["requests"]
        assert pending == []
