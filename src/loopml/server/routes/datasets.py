"""Dataset versions: listed, shown, uploaded and downloaded as streams."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from loopml.data.versions import FORMATS
from loopml.errors import NotFoundError, ValidationError
from loopml.server.payloads import json_response
from loopml.server.routes.artifacts import FILE_ANSWER, OCTETS, STREAM_BODY
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state
from loopml.server.uploads import DIGEST_HEADER, receive_file
from loopml.validation import MAX_NAME_LEN, NAME_PATTERN

State = Annotated[ServerState, Depends(server_state)]
api = Api("datasets")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,200}$")
FILENAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,200}\.(csv|csv\.gz|tsv|parquet|pq)$"


def list_datasets(
    state: State,
    name: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    page_token: str | None = None,
) -> Response:
    """Versions by name and number, a page at a time."""
    found = state.client.datasets.list(name, max_results=max_results, page_token=page_token)
    return json_response({"datasets": list(found), "next_page_token": found.next_page_token})


def get_dataset(ref: str, state: State) -> Response:
    """A version by reference: `bikes`, `bikes@3`, `dataset:bikes@latest` or its id."""
    return json_response(state.client.datasets.get(ref))


def diff_datasets(ref: str, other: str, state: State) -> Response:
    """What changed from version `ref` to version `other`: rows, schema, profile."""
    return json_response(state.client.datasets.diff(ref, other))


def _check_filename(filename: str) -> str:
    if not _FILENAME.match(filename) or not filename.lower().endswith(tuple(FORMATS)):
        raise ValidationError(
            f"filename {filename!r} must be a plain file name ending in one of "
            f"{', '.join(sorted(FORMATS))}: it says how the file is read"
        )
    return filename


async def upload_dataset(
    name: Annotated[
        str, Path(json_schema_extra={"pattern": NAME_PATTERN, "maxLength": MAX_NAME_LEN})
    ],
    request: Request,
    state: State,
    filename: Annotated[
        str,
        Query(
            json_schema_extra={"pattern": FILENAME_PATTERN},
            description="e.g. bikes.csv; its suffix sets the format",
        ),
    ],
    time_column: str | None = None,
    parent: str | None = None,
    description: str | None = None,
) -> Response:
    """Version the body (a CSV, TSV or Parquet file) under `name`; the same bytes again
    return the existing version."""
    _check_filename(filename)
    datasets = state.client.datasets
    async with receive_file(request, state.upload_dir, filename) as upload:
        version = await run_in_threadpool(
            lambda: datasets.log(
                name,
                upload.path,
                time_column=time_column,
                parent=parent,
                description=description,
            )
        )
    return json_response(version, 201)


def download_dataset_file(ref: str, path: str, state: State) -> Response:
    """One file of a version, verified against its hash before it is sent."""
    datasets = state.client.datasets
    version = datasets.get(ref)
    for item in version.files:
        if item["path"] == path:
            local: FilePath = state.client.stores.artifacts.local_path(item["digest"])
            return FileResponse(local, media_type=OCTETS, headers={DIGEST_HEADER: item["digest"]})
    listed = ", ".join(str(f["path"]) for f in version.files)
    raise NotFoundError(f"{version.uri} has no file {path!r}; its files are: {listed}")


api.route("GET", "/datasets", list_datasets, role="viewer", summary="List dataset versions")
api.route("GET", "/datasets/{ref}", get_dataset, role="viewer", summary="One dataset version")
api.route(
    "GET", "/datasets/{ref}/diff/{other}", diff_datasets, role="viewer", summary="Compare versions"
)
api.route(
    "POST",
    "/datasets/{name}/versions",
    upload_dataset,
    role="editor",
    status_code=201,
    upload=True,
    request_body=STREAM_BODY,
    summary="Upload a dataset version",
)
api.route(
    "GET",
    "/datasets/{ref}/files/{path:path}",
    download_dataset_file,
    role="viewer",
    responses=FILE_ANSWER,
    summary="Download a file of a version",
)
