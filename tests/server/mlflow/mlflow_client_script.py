"""What MLflow users do, run by the stock `mlflow` client against a tracking server.

Runs inside the MLflow environment (mlflow-requirements.txt), not loopml's: it imports
only mlflow. MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN point it at the server; the
experiment name is the first argument. It asserts what the server answers and prints one
JSON line with the ids it made, for the test to check through loopml's own SDK.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from sklearn.linear_model import Ridge

experiment_name = sys.argv[1]
experiment = mlflow.set_experiment(experiment_name)
assert experiment.name == experiment_name
client = MlflowClient()
assert client.get_experiment(experiment.experiment_id).name == experiment_name
names = [e.name for e in client.search_experiments(filter_string=f"name = '{experiment_name}'")]
assert names == [experiment_name], names

children = []
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_params({"model": "gbm", "depth": 4})
    mlflow.set_tag("team", "forecast")
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    folder = Path(tempfile.mkdtemp())
    (folder / "notes.txt").write_text("hello from mlflow\n")
    (folder / "plots").mkdir()
    (folder / "plots" / "curve.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    mlflow.log_artifact(str(folder / "notes.txt"))
    mlflow.log_artifacts(str(folder / "plots"), artifact_path="plots")
    mlflow.log_dict({"a": 1}, "config/settings.json")
    for i in range(3):
        with mlflow.start_run(run_name=f"child-{i}", nested=True) as child:
            client.log_batch(
                child.info.run_id,
                metrics=[Metric("rmse", 3.0 - i, 0, s) for s in range(2)],
                params=[Param("lr", str(0.1 * (i + 1)))],
                tags=[RunTag("fold", str(i))],
            )
            mlflow.set_tag("temporary", "yes")
            client.delete_tag(child.info.run_id, "temporary")
            children.append(child.info.run_id)

parent_id = parent.info.run_id
run = client.get_run(parent_id)
assert run.info.status == "FINISHED", run.info.status
assert run.data.params == {"model": "gbm", "depth": "4"}, run.data.params
assert run.data.tags["team"] == "forecast"
assert run.data.metrics["loss"] == 0.2, run.data.metrics
history = client.get_metric_history(parent_id, "loss")
assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)], history

found = mlflow.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and metrics.rmse < 2.5",
    order_by=["metrics.rmse ASC"],
    output_format="list",
)
assert [r.info.run_id for r in found] == [children[2], children[1]], found
assert "temporary" not in found[0].data.tags
by_name = client.search_runs(
    [experiment.experiment_id], filter_string="attributes.run_name = 'child-0'"
)
assert [r.info.run_id for r in by_name] == [children[0]]
page = client.search_runs(
    [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=2
)
rest = client.search_runs(
    [experiment.experiment_id],
    order_by=["attributes.start_time DESC"],
    max_results=2,
    page_token=page.token,
)
paged = [r.info.run_id for r in [*page, *rest]]
assert paged == [*reversed(children), parent_id], paged

listed = sorted(a.path for a in client.list_artifacts(parent_id))
assert listed == ["config", "notes.txt", "plots"], listed
nested = [(a.path, a.is_dir, a.file_size) for a in client.list_artifacts(parent_id, "plots")]
assert nested == [("plots/curve.csv", False, 22)], nested
target = Path(tempfile.mkdtemp())
local = mlflow.artifacts.download_artifacts(run_id=parent_id, dst_path=str(target))
assert (Path(local) / "plots" / "curve.csv").read_text().startswith("step,loss")
assert (Path(local) / "notes.txt").read_text() == "hello from mlflow\n"
assert mlflow.artifacts.load_dict(f"runs:/{parent_id}/config/settings.json") == {"a": 1}

# Models: autolog a scikit-learn fit, log and register the model, move an alias, load
# the registered model back by alias and by version, and predict.
model_name = f"{experiment_name}-ridge"
rng = np.random.default_rng(3)
features = pd.DataFrame({"x": rng.normal(size=40), "z": rng.normal(size=40)})
target = 2.0 * features["x"] - features["z"] + rng.normal(scale=0.1, size=40)
logged_as = {"name": "model"} if int(mlflow.__version__.split(".")[0]) >= 3 else {}
mlflow.sklearn.autolog()
with mlflow.start_run(run_name="trained") as trained:
    model = Ridge(alpha=0.5).fit(features, target)
    info = mlflow.sklearn.log_model(
        model,
        artifact_path=None if logged_as else "model",
        registered_model_name=model_name,
        input_example=features.head(5),
        serialization_format="cloudpickle",
        **logged_as,
    )
mlflow.sklearn.autolog(disable=True)
assert str(info.registered_model_version) == "1", info.registered_model_version
autologged = client.get_run(trained.info.run_id)
assert autologged.data.params["alpha"] == "0.5", autologged.data.params
assert "training_score" in autologged.data.metrics, autologged.data.metrics
scores = client.get_metric_history(trained.info.run_id, "training_score")
assert len(scores) == 1, scores  # logging the model did not repeat the run's metrics

client.set_registered_model_alias(model_name, "staging", 1)
staged = client.get_model_version_by_alias(model_name, "staging")
assert (staged.version, staged.run_id) == ("1", trained.info.run_id), staged
assert client.get_registered_model(model_name).aliases == {"staging": "1"}
found = client.search_model_versions(f"name = '{model_name}'")
assert [v.version for v in found] == ["1"], found
client.set_model_version_tag(model_name, "1", "reviewed", "yes")
assert client.get_model_version(model_name, "1").tags == {"reviewed": "yes"}
expected = model.predict(features.head(5))
by_alias = mlflow.pyfunc.load_model(f"models:/{model_name}@staging")
assert np.allclose(by_alias.predict(features.head(5)), expected)
by_version = mlflow.sklearn.load_model(f"models:/{model_name}/1")
assert np.allclose(by_version.predict(features.head(5)), expected)

print(
    json.dumps(
        {
            "experiment_id": experiment.experiment_id,
            "parent": parent_id,
            "children": children,
            "trained": trained.info.run_id,
            "model": model_name,
            "predictions": [float(p) for p in expected],
        }
    )
)
