"""Presigned transfers: artifact bytes straight between the client and the S3 bucket.

The server decides: asked for an upload, it answers with a URL and a ticket, or says
`direct: false` (presigning off, or a file too large for one PUT) and the client streams
through the server as usual. The bucket sees no loopml token — the URL is the only
credential, valid for one object and a short time — and the server records an upload
only after it has checked the object's size and BLAKE3 digest against the ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from loopml.errors import LoopmlError
from loopml.sdk.remote.http import TRANSPORT_ERRORS, RemoteHttp

CHUNK = 1024 * 1024


class BucketRefusedError(LoopmlError):
    """The object store refused a presigned request (expired URL, wrong signature)."""


class DirectTransfers:
    """The client's side of presigned transfers, for files of at least `min_bytes`."""

    def __init__(self, http: RemoteHttp, min_bytes: int, timeout_s: float) -> None:
        self.http = http
        self.min_bytes = min_bytes
        self._bucket = httpx.Client(timeout=timeout_s)  # no loopml token goes to the bucket

    def wanted(self, size: int) -> bool:
        return size >= self.min_bytes

    def upload(self, run_id: str, name: str, path: Path, digest: str) -> str | None:
        """PUT the file to a presigned URL and commit it; None when the server says to
        stream through it instead."""
        size = path.stat().st_size
        plan = self.http.call(
            "POST",
            f"/runs/{run_id}/artifact-uploads",
            json={"path": name, "digest": digest, "size": size},
            idempotent=True,
        )
        if not plan.get("direct"):
            return None
        self._put(str(plan["url"]), dict(plan.get("headers") or {}), path, size)
        answer = self.http.call(
            "POST",
            f"/runs/{run_id}/artifact-uploads/{plan['upload_id']}",
            json={"ticket": plan["ticket"]},
            idempotent=True,
            timeout_s=self.http.file_timeout(size),  # the server reads the object back
        )
        return str(answer["path"])

    def _put(self, url: str, headers: dict[str, str], path: Path, size: int) -> None:
        """One PUT of the whole file (S3 takes no chunked body), sent again after a cut."""
        headers = {**headers, "content-length": str(size)}
        for wait in self.http.retries():
            try:
                response = self._bucket.put(url, content=_chunks(path), headers=headers)
            except TRANSPORT_ERRORS as exc:
                wait(exc)
                continue
            if response.status_code in (500, 502, 503, 504):
                wait(None)
                continue
            if response.status_code >= 300:
                raise _refused("upload", response)

    def link(self, route: str) -> dict[str, Any] | None:
        """The presigned download link the server gives for `route`, if it gives one."""
        found: dict[str, Any] = self.http.call("GET", route)
        return found if found.get("direct") else None

    def opener(self, url: str) -> Callable[[int], AbstractContextManager[httpx.Response]]:
        """Opens the object at `url` from a byte offset on (a range request)."""

        @contextmanager
        def open_at(offset: int) -> Iterator[httpx.Response]:
            headers = {"range": f"bytes={offset}-"} if offset else None
            with self._bucket.stream("GET", url, headers=headers) as response:
                if response.status_code >= 300:
                    response.read()
                    raise _refused("download", response)
                yield response

        return open_at

    def close(self) -> None:
        self._bucket.close()


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _refused(what: str, response: httpx.Response) -> BucketRefusedError:
    return BucketRefusedError(
        f"the object store refused the presigned {what} ({response.status_code}): "
        f"{response.text[:300]}; ask the server for a new URL (they expire)"
    )
