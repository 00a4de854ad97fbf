"""Artifacts to and from a server, streamed: a file of any size uses flat memory.

Uploads announce the BLAKE3 digest of their bytes (`X-Content-Blake3`), which the server
checks before it stores anything; downloads are hashed as they are written and compared
with the digest the server sends, so a body changed or cut in transit is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from loopml.artifacts.hashing import hash_file, new_hasher
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.sdk.remote.http import RemoteHttp
from loopml.tracking.run_artifacts import check_artifact_path

DIGEST_HEADER = "x-content-blake3"
CHUNK = 1024 * 1024


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def upload_file(http: RemoteHttp, run_id: str, name: str, source: Path | bytes) -> str:
    """Store `source` as artifact `name` of the run; returns its path on the server."""
    name = check_artifact_path(name)  # before the URL is built: '..' must not reach it
    if isinstance(source, Path):
        if not source.is_file():
            raise ValidationError(f"cannot upload {source}: it is not a readable file")
        digest = hash_file(source)
        path = source

        def content() -> object:
            return file_chunks(path)

    else:
        hasher = new_hasher()
        hasher.update(source)
        digest = hasher.hexdigest()
        data = source

        def content() -> object:
            return data

    answer = http.call(
        "PUT",
        f"/runs/{run_id}/artifacts/{quote(name, safe='/')}",
        content=content,
        headers={DIGEST_HEADER: digest, "content-type": "application/octet-stream"},
    )
    return str(answer["path"])


def download(http: RemoteHttp, route: str, destination: Path) -> Path:
    """GET `route` into `destination` (written to a temporary name, checked, renamed)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex[:12]}.part")
    hasher = new_hasher()
    try:
        with http.stream(route) as response, open(partial, "wb") as out:
            expected = response.headers.get(DIGEST_HEADER)
            for chunk in response.iter_bytes(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
        if expected is not None and hasher.hexdigest() != expected:
            raise ArtifactCorruptedError(
                f"{route} arrived with BLAKE3 {hasher.hexdigest()}, not {expected}: the "
                "bytes changed in transit; download it again"
            )
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def artifact_route(run_id: str, path: str) -> str:
    return f"/runs/{run_id}/artifacts/{quote(path.strip('/'), safe='/')}"
