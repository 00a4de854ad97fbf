"""The stock MLflow client (mlflow-skinny 3.x, its own environment) against a live
`loopml server`: what MLflow users do works unchanged, the objects it makes are loopml's
own, and the token's role holds (a viewer cannot log, no token is 401)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.sdk import RemoteClient
from tests.server.live import LiveServer
from tests.server.mlflow.conftest import HERE, last_json, run_mlflow

pytestmark = pytest.mark.slow
SCRIPT = HERE / "mlflow_client_script.py"


def test_mlflow_users_script_makes_native_loopml_runs(
    mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
    tmp_path: Path,
) -> None:
    made = last_json(
        run_mlflow(
            mlflow_python, sqlite_server.url, role_tokens["editor"], [str(SCRIPT), experiment]
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
    finally:
        client.close()


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
    mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    make = "import mlflow, sys; mlflow.set_experiment(sys.argv[1])"
    done = run_mlflow(
        mlflow_python, sqlite_server.url, role_tokens["editor"], ["-c", make, experiment]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    refused = run_mlflow(
        mlflow_python, sqlite_server.url, role_tokens["viewer"], ["-c", VIEWER_LOGS, experiment]
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
