"""The MLflow route table: each route with its least role, mounted under the prefixes the
stock client (`/api/2.0/...`) and MLflow's web app (`/ajax-api/2.0/...`) call."""

from __future__ import annotations

from fastapi import FastAPI

from loopml.server.mlflow import artifacts, experiments, registry, runs
from loopml.server.mlflow.fields import Handler, endpoint
from loopml.server.routing import Api
from loopml.server.uploads import DIGEST_HEADER

TRACKING_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
STREAM_BODY = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}

tracking = Api("mlflow")
artifact_api = Api("mlflow-artifacts")


def _get(path: str, handler: Handler) -> None:
    tracking.route("GET", path, endpoint(handler, body=False), role="viewer", summary=path)


def _post(path: str, handler: Handler, role: str = "editor") -> None:
    tracking.route("POST", path, endpoint(handler, body=True), role=role, summary=path)


_post("/experiments/create", experiments.create_experiment)
_get("/experiments/get", experiments.get_experiment)
_get("/experiments/get-by-name", experiments.get_experiment_by_name)
_post("/experiments/search", experiments.search_experiments, role="viewer")
_post("/runs/create", runs.create_run)
_get("/runs/get", runs.get_run)
_post("/runs/update", runs.update_run)
_post("/runs/log-metric", runs.log_metric)
_post("/runs/log-parameter", runs.log_param)
_post("/runs/set-tag", runs.set_tag)
_post("/runs/delete-tag", runs.delete_tag)
_post("/runs/log-batch", runs.log_batch)
_post("/runs/log-inputs", runs.log_inputs)
_post("/runs/search", runs.search_runs, role="viewer")
_get("/metrics/get-history", runs.metric_history)
_post("/logged-models/search", experiments.search_logged_models, role="viewer")
_get("/registered-models/get", registry.get_registered_model)
_get("/model-versions/get", registry.get_model_version)
_get("/registered-models/alias", registry.get_by_alias)
_post("/registered-models/alias", registry.set_alias)
tracking.route(
    "DELETE",
    "/registered-models/alias",
    endpoint(registry.delete_alias, body=True),
    role="editor",
    summary="/registered-models/alias",
)

artifact_api.route("GET", "/artifacts", artifacts.listing, role="viewer", summary="List")
artifact_api.route(
    "PUT",
    "/artifacts/{artifact_path:path}",
    artifacts.upload,
    role="editor",
    upload=True,
    request_body=STREAM_BODY,
    summary="Upload an artifact",
)
artifact_api.route(
    "GET",
    "/artifacts/{artifact_path:path}",
    artifacts.download,
    role="viewer",
    responses={200: {"headers": {DIGEST_HEADER: {"schema": {"type": "string"}}}}},
    summary="Download an artifact",
)

# Run and experiment lifecycle: delete and restore runs, experiment tags; renaming, deleting
# or restoring an experiment is refused with the reason (experiments.py).
_post("/runs/delete", runs.delete_run)
_post("/runs/restore", runs.restore_run)
_post("/experiments/set-experiment-tag", experiments.set_experiment_tag)
_post("/experiments/update", experiments.refuse_experiment_change)
_post("/experiments/delete", experiments.refuse_experiment_change)
_post("/experiments/restore", experiments.refuse_experiment_change)


def mount(app: FastAPI) -> None:
    """Add the MLflow routes to `app` (guarded like every API route: routing.py)."""
    for prefix in TRACKING_PREFIXES:
        tracking.mount(app, prefix)
    for prefix in ARTIFACT_PREFIXES:
        artifact_api.mount(app, prefix)
