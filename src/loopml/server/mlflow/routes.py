"""The MLflow route table: each route with its least role, mounted under the prefixes the
stock client (`/api/2.0/...`) and MLflow's web app (`/ajax-api/2.0/...`) call."""

from __future__ import annotations

from fastapi import FastAPI

from loopml.server.mlflow import (
    artifacts,
    experiments,
    logged_models,
    model_versions,
    registry,
    runs,
)
from loopml.server.mlflow.fields import Handler, endpoint
from loopml.server.mlflow.logged_models import path_endpoint
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


# ---------------------------------------------------------------- models and registry
# MLflow 3's logged models (what log_model creates and uploads to), the registry's
# registered models, versions and aliases (registry.py, model_versions.py).


def _call(method: str, path: str, handler: Handler, role: str = "editor") -> None:
    """A route whose fields come from the body (or query, for GET) and the path."""
    found = path_endpoint(handler, path, body=method != "GET")
    tracking.route(method, path, found, role=role, summary=path)


_post("/logged-models", logged_models.create_logged_model)
_post("/logged-models/search", logged_models.search_logged_models, role="viewer")
_call("GET", "/logged-models/{model_id}", logged_models.get_logged_model, role="viewer")
_call("PATCH", "/logged-models/{model_id}", logged_models.finalize_logged_model)
_call("PATCH", "/logged-models/{model_id}/tags", logged_models.set_tags)
_call("DELETE", "/logged-models/{model_id}/tags/{tag_key}", logged_models.delete_tag)
_call("POST", "/logged-models/{model_id}/params", logged_models.log_params)
_post("/runs/outputs", logged_models.log_outputs)
_post("/runs/log-model", logged_models.log_model_history)

_post("/registered-models/create", registry.create_registered_model)
_get("/registered-models/get", registry.get_registered_model)
_get("/registered-models/search", registry.search_registered_models)
_call("PATCH", "/registered-models/update", registry.update_registered_model)
_post("/registered-models/rename", registry.refuse_model_change)
_call("DELETE", "/registered-models/delete", registry.refuse_model_change)
_post("/registered-models/set-tag", registry.refuse_model_change)
_call("DELETE", "/registered-models/delete-tag", registry.refuse_model_change)
_post("/registered-models/get-latest-versions", model_versions.latest_versions, role="viewer")
_get("/registered-models/alias", model_versions.get_by_alias)
_post("/registered-models/alias", registry.set_alias)
_call("DELETE", "/registered-models/alias", registry.delete_alias)

_post("/model-versions/create", model_versions.create_model_version)
_get("/model-versions/get", model_versions.get_model_version)
_get("/model-versions/search", model_versions.search_model_versions)
_get("/model-versions/get-download-uri", model_versions.download_uri)
_call("PATCH", "/model-versions/update", model_versions.update_model_version)
_call("DELETE", "/model-versions/delete", model_versions.refuse_version_change)
_post("/model-versions/transition-stage", model_versions.refuse_version_change)
_post("/model-versions/set-tag", model_versions.set_tag)
_call("DELETE", "/model-versions/delete-tag", model_versions.delete_tag)
