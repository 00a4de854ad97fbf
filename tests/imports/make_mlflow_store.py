"""Make an MLflow store with the real `mlflow` package (run in .venv-mlflow-server, not
loopml's environment): experiments, runs with metric histories and artifacts, nested runs,
a registered model with two versions and aliases, in a SQLite database and an artifact
folder. Arguments: the database file, the artifact folder, and `more` to add one run to an
existing store. Prints one JSON line with the ids it made."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

database, artifacts = Path(sys.argv[1]), Path(sys.argv[2])
more = len(sys.argv) > 3 and sys.argv[3] == "more"
mlflow.set_tracking_uri(f"sqlite:///{database}")
client = MlflowClient()
if client.get_experiment_by_name("bikes") is None:
    client.create_experiment(
        "bikes", artifact_location=str(artifacts / "bikes"), tags={"team": "ops"}
    )
    client.create_experiment("other runs", artifact_location=str(artifacts / "other"))
mlflow.set_experiment("bikes")
made: dict[str, object] = {}
if more:
    with mlflow.start_run(run_name="late") as late:
        mlflow.log_metric("rmse", 0.5)
    made["late"] = late.info.run_id
    print(json.dumps(made))
    raise SystemExit(0)

folder = Path(tempfile.mkdtemp())
(folder / "notes.txt").write_text("hello from mlflow\n")
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"model": "ridge", "alpha": 0.5})
    mlflow.set_tag("team", "forecast")
    for step in range(120):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1_700_000_000_000 + step)
    mlflow.log_artifact(str(folder / "notes.txt"))
    mlflow.log_dict({"a": 1}, "config/settings.json")
    (folder / "model").mkdir()
    (folder / "model" / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (folder / "model" / "weights.bin").write_bytes(bytes(range(256)))
    mlflow.log_artifacts(str(folder / "model"), artifact_path="model")
    with mlflow.start_run(run_name="child one", nested=True) as child:
        mlflow.log_metric("rmse", 2.0)
        mlflow.log_metric("rmse", 1.5, step=1)
        import pandas as pd
        from sklearn.linear_model import LinearRegression

        frame = pd.DataFrame({"temp": [0.1, 0.4, 0.7, 0.9], "hum": [0.5, 0.2, 0.8, 0.3]})
        fitted = LinearRegression().fit(frame, [10.0, 40.0, 70.0, 90.0])
        mlflow.sklearn.log_model(
            fitted,
            name="linear",
            registered_model_name="bikes-linear",
            input_example=frame.head(2),
            serialization_format="cloudpickle",
        )
    with mlflow.start_run(run_name="broken", nested=True) as broken:
        mlflow.log_artifact(str(folder / "notes.txt"))
mlflow.set_experiment("other runs")
with mlflow.start_run(run_name="failed") as failed:
    mlflow.log_metric("loss", 3.0)
    mlflow.set_tag("mlflow.note.content", "diverged")
client.set_terminated(failed.info.run_id, "FAILED")

name = "bikes-model"
client.create_registered_model(name, description="demand")
one = client.create_model_version(name, f"runs:/{parent.info.run_id}/model", parent.info.run_id)
two = client.create_model_version(
    name, f"{parent.info.artifact_uri}/model", parent.info.run_id, description="second"
)
client.set_registered_model_alias(name, "staging", one.version)
client.set_registered_model_alias(name, "champion", two.version)
made.update(
    parent=parent.info.run_id,
    child=child.info.run_id,
    broken=broken.info.run_id,
    failed=failed.info.run_id,
    broken_artifacts=broken.info.artifact_uri,
)
print(json.dumps(made))
