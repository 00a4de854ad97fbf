"""`loopml import mlflow` on a store made by the real `mlflow` package (in its own
environment): everything copied once, nothing twice, one new run on the next import, and a
missing artifact or a protected alias reported, not fatal."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from typer.testing import CliRunner

from loopml.cli.main import app
from loopml.errors import ValidationError
from loopml.imports.mlflow import open_source
from loopml.sdk import Client
from tests.server.mlflow.conftest import venv_python
from tests.server.mlflow.mlflow_server import mlflow_server

pytestmark = pytest.mark.slow
MAKER = Path(__file__).with_name("make_mlflow_store.py")


@pytest.fixture(scope="module")
def mlflow_server_python() -> Path:
    return venv_python(".venv-mlflow-server")


def _make(python: Path, database: Path, artifacts: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(MAKER), str(database), str(artifacts), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    made: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return made


def _import(root: Path, *args: str) -> dict[str, Any]:
    answer = CliRunner().invoke(app, ["-w", str(root), "import", "mlflow", *args, "--json"])
    assert answer.exit_code == 0, answer.output
    found: dict[str, Any] = json.loads(answer.stdout)
    return found


def test_an_mlflow_store_moves_over_once(
    mlflow_server_python: Path, tmp_path: Path, make_client: Callable[..., Client]
) -> None:
    database, artifacts = tmp_path / "mlflow.db", tmp_path / "artifacts"
    made = _make(mlflow_server_python, database, artifacts)
    broken = Path(made["broken_artifacts"]) / "notes.txt"
    broken.unlink()
    broken.symlink_to(tmp_path / "gone.txt")  # a dangling file: reported, not fatal
    uri = f"sqlite:///{database}"
    client = make_client(root=tmp_path / "ws")
    root = tmp_path / "ws"
    first = _import(root, "--from", uri, "--artifact-root", str(artifacts))

    assert first["copied"]["runs"] == 4 and first["copied"]["experiments"] == 3
    assert first["copied"]["metric points"] == 120 + 2 + 1
    assert first["copied"]["model versions"] == 3 and first["copied"]["aliases"] == 1
    problems = {(p["kind"], p["source_id"]): p["reason"] for p in first["not_copied"]}
    assert "is not a readable file" in problems[("artifact", made["broken"] + "/notes.txt")]
    assert "protected" in problems[("alias", "bikes-model@champion")]
    assert "'other runs' to 'other-runs'" in problems[("experiment", "2")]

    tracking = client.tracking
    (parent,) = tracking.search_runs("bikes", filter="attributes.name = 'parent'")
    assert parent.params == {"model": "ridge", "alpha": "0.5"}
    assert parent.tags["team"] == "forecast" and parent.status == "FINISHED"
    assert parent.tags["mlflow.import.sourceRunId"] == made["parent"]
    history = tracking.metric_history(parent.id, "loss")
    assert [(p.step, p.value) for p in history] == [(s, 1.0 / (s + 1)) for s in range(120)]
    assert history[0].timestamp == pytest.approx(1_700_000_000.0)
    paths = {a["path"] for a in tracking.list_artifacts(parent.id)}
    assert {"notes.txt", "config/settings.json", "model/MLmodel", "model/weights.bin"} <= paths
    assert tracking.read_artifact(parent.id, "notes.txt") == b"hello from mlflow\n"
    (child,) = tracking.search_runs("bikes", filter="attributes.name = 'child-one'")
    assert child.parent_id == parent.id
    assert [p.value for p in tracking.metric_history(child.id, "rmse")] == [2.0, 1.5]
    (failed,) = tracking.search_runs("other-runs")
    assert failed.status == "FAILED"
    assert tracking.experiment_tags(tracking.experiment_id("bikes")) == {"team": "ops"}
    registry = client.models.registry
    model = registry.get_model("bikes-model")
    assert model.aliases == {"staging": 1}
    assert registry.get_version("bikes-model/2").run_id == parent.id
    # a scikit-learn model is sealed as loopml's own flavor: it loads and predicts; the
    # folder that is not one keeps its files and is noted as not servable
    linear = registry.get_version("bikes-linear/1")
    assert linear.run_id == child.id
    loaded = client.models.load("model:bikes-linear/1")
    rows = pd.DataFrame({"temp": [0.5], "hum": [0.5]})
    assert float(loaded.predict(rows)[0]) == pytest.approx(
        float(
            LinearRegression()
            .fit(
                pd.DataFrame({"temp": [0.1, 0.4, 0.7, 0.9], "hum": [0.5, 0.2, 0.8, 0.3]}),
                [10.0, 40.0, 70.0, 90.0],
            )
            .predict(rows)[0]
        )
    )
    notes = {(n["kind"], n["source_id"]): n["reason"] for n in first["copied_with_notes"]}
    assert "not servable" in notes[("version", "bikes-model/1")]
    assert ("version", "bikes-linear/1") not in notes

    again = _import(root, "--from", uri, "--artifact-root", str(artifacts))
    assert again["copied"].get("runs", 0) == 0 and again["already_copied"]["runs"] == 4
    assert again["already_copied"]["model versions"] == 3
    assert len(list(tracking.search_runs("bikes"))) == 3

    late = _make(mlflow_server_python, database, artifacts, "more")
    third = _import(root, "--from", uri, "--artifact-root", str(artifacts))
    assert third["copied"]["runs"] == 1 and third["already_copied"]["runs"] == 4
    (copied,) = tracking.search_runs("bikes", filter="attributes.name = 'late'")
    assert copied.tags["mlflow.import.sourceRunId"] == late["late"]


@pytest.mark.parametrize(
    ("uri", "root", "message"),
    [
        ("ftp://host/x", True, "unknown scheme 'ftp'"),
        ("sqlite:///nowhere/mlflow.db", False, "pass --artifact-root"),
        ("sqlite:///nowhere/mlflow.db", True, "no MLflow database at"),
        ("http://127.0.0.1:9", True, "cannot reach an MLflow server"),
    ],
)
def test_unusable_sources_are_refused_with_a_hint(
    uri: str, root: bool, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=message):
        open_source(uri, tmp_path if root else None)


def test_a_database_that_is_not_mlflow_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ValidationError, match="not an MLflow tracking database"):
        open_source(f"sqlite:///{other}", tmp_path)


def test_a_running_mlflow_server_moves_over_through_its_api(
    mlflow_server_python: Path, tmp_path: Path, make_client: Callable[..., Client]
) -> None:
    database, artifacts = tmp_path / "mlflow.db", tmp_path / "artifacts"
    made = _make(mlflow_server_python, database, artifacts)
    client = make_client(root=tmp_path / "ws")
    with mlflow_server(mlflow_server_python, database, artifacts) as url:
        first = _import(tmp_path / "ws", "--from", url)
        again = _import(tmp_path / "ws", "--from", url)
    assert first["copied"]["runs"] == 4 and first["copied"]["metric points"] == 123
    assert first["copied"]["artifacts"] == 5 and first["copied"]["model versions"] == 2
    assert again["already_copied"]["runs"] == 4 and again["copied"].get("runs", 0) == 0
    tracking = client.tracking
    (parent,) = tracking.search_runs("bikes", filter="attributes.name = 'parent'")
    assert parent.tags["mlflow.import.sourceRunId"] == made["parent"]
    assert len(tracking.metric_history(parent.id, "loss")) == 120
    assert tracking.read_artifact(parent.id, "model/weights.bin") == bytes(range(256))
    assert client.models.registry.get_model("bikes-model").aliases == {"staging": 1}
