"""Streamed request bodies: written to a temporary file as they arrive, hashed on the way.

Memory stays flat for any size (one chunk at a time); the BLAKE3 digest — the artifact
store's id of the same bytes — is compared with the one the client announces in
`X-Content-Blake3`, so a body changed or cut in transit is refused before it is stored.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from loopml.artifacts.hashing import new_hasher
from loopml.server.errors import ApiError

DIGEST_HEADER = "x-content-blake3"
_FLUSH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    path: Path
    digest: str
    size: int


@asynccontextmanager
async def receive_file(request: Request, folder: Path, name: str = "body") -> AsyncIterator[Upload]:
    """The request body as file `name` in a folder of its own under `folder`, removed
    when the block ends."""
    home = folder / f"upload-{uuid.uuid4().hex}"
    await run_in_threadpool(home.mkdir, parents=True)
    path = home / name
    hasher = new_hasher()
    size = 0
    pending: list[bytes] = []
    pending_bytes = 0
    handle = await run_in_threadpool(open, path, "wb")
    try:
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                pending.append(chunk)
                pending_bytes += len(chunk)
                size += len(chunk)
                if pending_bytes >= _FLUSH_BYTES:
                    await run_in_threadpool(_write, handle, hasher, pending)
                    pending, pending_bytes = [], 0
            await run_in_threadpool(_write, handle, hasher, pending)
        finally:
            await run_in_threadpool(handle.close)
        digest = str(hasher.hexdigest())
        announced = request.headers.get(DIGEST_HEADER)
        if announced is not None and announced.strip().lower() != digest:
            raise ApiError(
                422,
                "digest_mismatch",
                f"the body's BLAKE3 digest is {digest}, not {announced.strip()!r} as announced",
                "the bytes changed in transit or the digest was computed over other bytes; "
                "send the file again",
            )
        yield Upload(path, digest, size)
    finally:
        await run_in_threadpool(shutil.rmtree, home, True)


def _write(handle: object, hasher: object, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)  # type: ignore[attr-defined]
        handle.write(chunk)  # type: ignore[attr-defined]
