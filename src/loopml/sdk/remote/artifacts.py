"""Artifacts to and from a server, streamed: a file of any size uses flat memory.

Uploads announce the BLAKE3 digest of their bytes (`X-Content-Blake3`), which the server
checks before it stores anything; downloads are hashed as they are written and compared
with the digest the server sends, so a body changed or cut in transit is an error. A
download cut mid-way resumes where it stopped (an HTTP range request). When the server
offers presigned URLs (an S3 store), large files go straight to and from the bucket
(direct.py) and the server verifies them all the same.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from loopml.artifacts.hashing import hash_file, new_hasher
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.sdk.remote.direct import DirectTransfers
from loopml.sdk.remote.http import TRANSPORT_ERRORS, RemoteHttp
from loopml.tracking.run_artifacts import check_artifact_path

DIGEST_HEADER = "x-content-blake3"
CHUNK = 1024 * 1024
# Opens the body from byte `offset` on (a range request when offset > 0).
Opener = Callable[[int], AbstractContextManager[httpx.Response]]


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def upload_file(
    http: RemoteHttp,
    run_id: str,
    name: str,
    source: Path | bytes,
    direct: DirectTransfers | None = None,
) -> str:
    """Store `source` as artifact `name` of the run; returns its path on the server."""
    name = check_artifact_path(name)  # before the URL is built: '..' must not reach it
    if isinstance(source, Path):
        if not source.is_file():
            raise ValidationError(f"cannot upload {source}: it is not a readable file")
        digest = hash_file(source)
        path = source
        size = path.stat().st_size
        if direct is not None and direct.wanted(size):
            stored = direct.upload(run_id, name, path, digest)
            if stored is not None:
                return stored

        def content() -> object:
            return file_chunks(path)

    else:
        hasher = new_hasher()
        hasher.update(source)
        digest = hasher.hexdigest()
        data = source
        size = len(data)

        def content() -> object:
            return data

    answer = http.call(
        "PUT",
        f"/runs/{run_id}/artifacts/{quote(name, safe='/')}",
        content=content,
        headers={DIGEST_HEADER: digest, "content-type": "application/octet-stream"},
        timeout_s=http.file_timeout(size),
    )
    return str(answer["path"])


def download(
    http: RemoteHttp,
    route: str,
    destination: Path,
    direct: DirectTransfers | None = None,
    link_route: str | None = None,
) -> Path:
    """GET `route` into `destination` (written to a temporary name, checked, renamed);
    from the bucket when `link_route` gives a presigned URL."""
    if direct is not None and link_route is not None:
        link = direct.link(link_route)
        if link is not None:
            opener = direct.opener(str(link["url"]))
            return fetch_to(http, opener, destination, str(link["digest"]), route)

    def through_server(offset: int) -> AbstractContextManager[httpx.Response]:
        return http.stream(route, {"range": f"bytes={offset}-"} if offset else None)

    return fetch_to(http, through_server, destination, None, route)


def fetch_to(
    http: RemoteHttp, open_at: Opener, destination: Path, expected: str | None, what: str
) -> Path:
    """Stream a body into `destination`, resuming after a cut for up to the client's retry
    time, and check it against `expected` (or the digest header of the answer)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex[:12]}.part")
    hasher: Any = new_hasher()
    written = 0
    try:
        with open(partial, "wb") as out:
            for wait in http.retries():
                try:
                    with open_at(written) as response:
                        if written and response.status_code != 206:  # no range: start over
                            out.seek(0)
                            out.truncate()
                            hasher, written = new_hasher(), 0
                        expected = expected or response.headers.get(DIGEST_HEADER)
                        for chunk in response.iter_bytes(CHUNK):
                            hasher.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
                except TRANSPORT_ERRORS as exc:
                    wait(exc)
        if expected is not None and hasher.hexdigest() != expected:
            raise ArtifactCorruptedError(
                f"{what} arrived with BLAKE3 {hasher.hexdigest()}, not {expected}: the "
                "bytes changed in transit; download it again"
            )
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def artifact_route(run_id: str, path: str) -> str:
    return f"/runs/{run_id}/artifacts/{quote(path.strip('/'), safe='/')}"


def artifact_link_route(run_id: str, path: str) -> str:
    return f"/runs/{run_id}/artifact-links/{quote(path.strip('/'), safe='/')}"
