"""Direct transfers: presigned URLs so that artifact bytes skip the server.

The client asks how to upload (the server answers with a URL and a signed ticket, or says
to stream through it), PUTs the file to the bucket, then commits with the ticket; the
server copies the object out of the URL's reach, checks its size and BLAKE3 digest, and
only then records the artifact. Download links point at a verified blob; the client checks
the bytes against the digest sent beside the link.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from loopml.artifacts.direct import MAX_SINGLE_PUT, DirectTransfers, SignedUrl
from loopml.errors import ArtifactCorruptedError, NotFoundError
from loopml.server.bodies import Body, Digest
from loopml.server.errors import ApiError
from loopml.server.payloads import json_response
from loopml.server.routing import Api
from loopml.server.state import ServerState, server_state
from loopml.server.tickets import (
    UploadTicket,
    check_ticket,
    read_ticket,
    sign_ticket,
    ticket_key,
)
from loopml.tracking.run_artifacts import check_artifact_path

State = Annotated[ServerState, Depends(server_state)]
api = Api("artifacts")
OFF = "presigned URLs are off on this server (presigned_urls, or a store that is not S3)"


class UploadPlan(Body):
    path: str = Field(min_length=1, max_length=1000, description="Artifact path in the run.")
    digest: Digest = Field(description="BLAKE3 of the file's bytes.")
    size: int = Field(ge=0, description="The file's size in bytes.")


class UploadCommit(Body):
    ticket: str = Field(min_length=1, max_length=4000, description="As the plan gave it.")


def _url(signed: SignedUrl) -> dict[str, Any]:
    return {
        "direct": True,
        "method": signed.method,
        "url": signed.url,
        "headers": signed.headers,
        "expires_at": signed.expires_at,
    }


def _proxy(reason: str) -> Response:
    return json_response({"direct": False, "reason": reason})


def _ticket_key(state: ServerState) -> bytes:
    return ticket_key(state.client.stores.seal.key())


async def plan_upload(run_id: str, body: UploadPlan, state: State) -> Response:
    """A presigned PUT URL and its ticket, or `direct: false` (stream through the server)."""
    direct = state.direct
    if direct is None:
        return _proxy(OFF)
    if body.size > MAX_SINGLE_PUT:
        return _proxy(f"files over {MAX_SINGLE_PUT} bytes stream through the server")
    tracking = state.client.tracking
    run_id = await run_in_threadpool(tracking.resolve_run_id, run_id)
    await run_in_threadpool(tracking.get_run, run_id)
    path = check_artifact_path(body.path)
    upload_id = uuid.uuid4().hex
    signed = direct.upload_url(run_id, upload_id)
    principal = state.client.stores.actor.name
    ticket = UploadTicket(
        upload_id, run_id, path, body.digest, body.size, principal, signed.expires_at
    )
    key = await run_in_threadpool(_ticket_key, state)
    return json_response(
        {**_url(signed), "upload_id": upload_id, "ticket": sign_ticket(key, ticket)}
    )


async def commit_upload(run_id: str, upload_id: str, body: UploadCommit, state: State) -> Response:
    """Verify the uploaded object against its ticket and record it as the run's artifact."""
    direct = state.direct
    if direct is None:
        raise ApiError(409, "conflict", OFF, "upload through PUT /runs/{run_id}/artifacts/{path}")
    tracking = state.client.tracking
    run_id = await run_in_threadpool(tracking.resolve_run_id, run_id)
    ticket = read_ticket(await run_in_threadpool(_ticket_key, state), body.ticket)
    check_ticket(ticket, run_id, upload_id, state.client.stores.actor.name)
    try:
        ref = await run_in_threadpool(direct.adopt, run_id, upload_id, ticket.digest, ticket.size)
    except ArtifactCorruptedError as exc:
        raise ApiError(
            422,
            "digest_mismatch",
            f"{exc}; nothing was recorded",
            "upload the file again to a new URL; the digest must be BLAKE3 of its bytes",
        ) from None
    except NotFoundError:
        if await run_in_threadpool(_committed, state, ticket):
            return _answer(ticket)  # a retried commit whose answer was lost
        raise
    await run_in_threadpool(tracking.attach_stored_artifact, run_id, ticket.path, ref)
    return _answer(ticket)


def _committed(state: ServerState, ticket: UploadTicket) -> bool:
    try:
        found = state.client.tracking.artifact_digest(ticket.run_id, ticket.path)
    except NotFoundError:
        return False
    return found == ticket.digest


def _answer(ticket: UploadTicket) -> Response:
    document = {
        "run_id": ticket.run_id,
        "path": ticket.path,
        "digest": ticket.digest,
        "size": ticket.size,
    }
    return json_response(document, 201)


def _link(direct: DirectTransfers | None, digest: str) -> Response:
    if direct is None:
        return _proxy(OFF)
    signed = direct.download_url(digest)
    size = direct.backend.size(digest)
    return json_response({**_url(signed), "digest": digest, "size": size})


def artifact_link(run_id: str, path: str, state: State) -> Response:
    """A presigned GET URL of the artifact's blob and its digest, or `direct: false`."""
    digest = state.client.tracking.artifact_digest(run_id, path)
    return _link(state.direct, digest)


def dataset_file_link(ref: str, path: str, state: State) -> Response:
    """A presigned GET URL of one file of a dataset version, or `direct: false`."""
    version = state.client.datasets.get(ref)
    for item in version.files:
        if item["path"] == path:
            return _link(state.direct, str(item["digest"]))
    raise NotFoundError(f"{version.uri} has no file {path!r}")


api.route(
    "POST",
    "/runs/{run_id}/artifact-uploads",
    plan_upload,
    role="editor",
    summary="Ask for a presigned upload URL",
)
api.route(
    "POST",
    "/runs/{run_id}/artifact-uploads/{upload_id}",
    commit_upload,
    role="editor",
    status_code=201,
    summary="Verify and record a presigned upload",
)
api.route(
    "GET",
    "/runs/{run_id}/artifact-links/{path:path}",
    artifact_link,
    role="viewer",
    summary="A presigned download URL of an artifact",
)
api.route(
    "GET",
    "/datasets/{ref}/file-links/{path:path}",
    dataset_file_link,
    role="viewer",
    summary="A presigned download URL of a dataset file",
)
