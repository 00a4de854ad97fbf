"""Run artifacts: listed, uploaded and downloaded as streams (any size, flat memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from loopml.server.errors import ApiError
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state
from loopml.server.uploads import DIGEST_HEADER, receive_file

State = Annotated[ServerState, Depends(server_state)]
api = Api("artifacts")
OCTETS = "application/octet-stream"
STREAM_BODY = {
    "required": True,
    "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
}
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}}}
}


def list_artifacts(run_id: str, state: State) -> Response:
    return json_response({"artifacts": state.client.tracking.list_artifacts(run_id)})


async def upload_artifact(run_id: str, path: str, request: Request, state: State) -> Response:
    """Store the body as the run's artifact at `path` (X-Content-Blake3, if sent, must
    match the bytes received)."""
    tracking = state.client.tracking
    run_id = await run_in_threadpool(tracking.resolve_run_id, run_id)
    async with receive_file(request, state.upload_dir) as upload:
        stored = await run_in_threadpool(tracking.log_artifact, run_id, upload.path, path)
    return json_response(
        {"run_id": run_id, "path": stored[0], "digest": upload.digest, "size": upload.size}, 201
    )


async def store_blob(digest: str, request: Request, state: State) -> Response:
    """Store the body as a content-addressed blob; `digest` must be its BLAKE3 hash."""
    store = state.client.stores.artifacts
    async with receive_file(request, state.upload_dir) as upload:
        if upload.digest != digest:
            raise ApiError(
                422,
                "digest_mismatch",
                f"the body's BLAKE3 digest is {upload.digest}, not {digest}",
                "name a blob by the BLAKE3 hash of its bytes",
            )
        await run_in_threadpool(store.put_file, upload.path)
    return json_response({"digest": digest, "size": upload.size}, 201)


def download_artifact(run_id: str, path: str, state: State) -> Response:
    """The artifact's bytes, verified against their hash before they are sent."""
    client = state.client
    digest = client.tracking.artifact_digest(run_id, path)
    local: Path = client.stores.artifacts.local_path(digest)
    return FileResponse(local, media_type=OCTETS, headers={DIGEST_HEADER: digest})


api.route("GET", "/runs/{run_id}/artifacts", list_artifacts, role="viewer")
api.route(
    "PUT",
    "/blobs/{digest}",
    store_blob,
    role="editor",
    status_code=201,
    upload=True,
    request_body=STREAM_BODY,
    summary="Store a blob (a run's package list or code diff)",
)
api.route(
    "PUT",
    "/runs/{run_id}/artifacts/{path:path}",
    upload_artifact,
    role="editor",
    status_code=201,
    upload=True,
    request_body=STREAM_BODY,
    summary="Upload an artifact",
)
api.route(
    "GET",
    "/runs/{run_id}/artifacts/{path:path}",
    download_artifact,
    role="viewer",
    responses=FILE_ANSWER,
    summary="Download an artifact",
)
