"""MLflow's proxied artifact endpoints (`mlflow-artifacts`) over loopml's run artifacts:
uploads stream to a temporary file and are stored by content hash; downloads stream the
verified blob; listings show one folder level, as MLflow's do. A run's logged models
(`mlflow-models/`, logged_models.py) and its dataset inputs (`mlflow-inputs/`, runs.py),
which MLflow keeps apart from a run's artifacts, are listed only inside their own folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from loopml.errors import ValidationError
from loopml.server.mlflow.ids import split_artifact_path
from loopml.server.payloads import json_response
from loopml.server.state import ServerState
from loopml.server.uploads import DIGEST_HEADER, receive_file

OCTETS = "application/octet-stream"
HIDDEN = ("mlflow-models/", "mlflow-inputs/")  # logged_models.MODELS_DIR, runs.log_inputs


async def upload(artifact_path: str, request: Request) -> Response:
    """Store the body as the run's artifact at the path after `artifacts/`."""
    state: ServerState = request.app.state.server
    tracking = state.client.tracking
    run, inner = split_artifact_path(artifact_path)
    if not inner:
        raise ValidationError("name the file: <experiment id>/<run id>/artifacts/<path>")
    found = await run_in_threadpool(tracking.resolve_run_id, run)
    async with receive_file(request, state.upload_dir) as body:
        await run_in_threadpool(tracking.log_artifact, found, body.path, inner)
    return json_response({})


def _download(state: ServerState, path: str) -> tuple[Path, str]:
    run, inner = split_artifact_path(path)
    digest = state.client.tracking.artifact_digest(run, inner)
    local: Path = state.client.stores.artifacts.local_path(digest)
    return local, digest


async def download(artifact_path: str, request: Request) -> Response:
    """The artifact's bytes, streamed from the blob store after its hash is checked."""
    state: ServerState = request.app.state.server
    local, digest = await run_in_threadpool(_download, state, artifact_path)
    return FileResponse(local, media_type=OCTETS, headers={DIGEST_HEADER: digest})


def _listing(state: ServerState, path: str) -> dict[str, Any]:
    run, inner = split_artifact_path(path)
    prefix = inner.rstrip("/") + "/" if inner else ""
    files: dict[str, dict[str, Any]] = {}
    for item in state.client.tracking.list_artifacts(run):
        stored = str(item["path"])
        if not prefix and stored.startswith(HIDDEN):
            continue  # MLflow lists logged models and inputs apart from a run's artifacts
        if prefix and not stored.startswith(prefix):
            if stored == inner:
                return {"files": []}  # a file, not a folder: MLflow lists nothing
            continue
        head, slash, _ = stored[len(prefix) :].partition("/")
        if slash:
            files.setdefault(head, {"path": head, "is_dir": True})
        else:
            files[head] = {"path": head, "is_dir": False, "file_size": int(item["size"])}
    return {"files": [files[name] for name in sorted(files)]}


async def listing(request: Request) -> Response:
    """One folder level of a run's artifacts (`?path=<experiment id>/<run id>/artifacts/…`)."""
    state: ServerState = request.app.state.server
    path = request.query_params.get("path")
    if not path:
        raise ValidationError("list artifacts with ?path=<experiment id>/<run id>/artifacts")
    return json_response(await run_in_threadpool(_listing, state, path))
