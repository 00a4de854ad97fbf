"""Code versions and environments captured by a remote client, recorded as local ones are.

A remote client runs `git` and lists its packages itself (environment.py), stores the
package list and any uncommitted diff as blobs, and names them when it creates a run; the
run then holds the same artifacts and environment record a local run would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loopml.artifacts import ArtifactRef, ArtifactStore
from loopml.errors import ValidationError

MAX_ENVIRONMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class RemoteCapture:
    """The code version and environment a remote client captured of itself; its blobs
    (the package list, any uncommitted diff) are already in the artifact store."""

    commit: str | None
    dirty: bool | None
    diff_digest: str | None
    packages_digest: str
    environment: dict[str, Any]


def remote_capture_artifacts(
    store: ArtifactStore, captured: RemoteCapture
) -> tuple[list[tuple[str, ArtifactRef, str]], dict[str, Any]]:
    """The run artifacts (path, blob, media type) and environment record of a capture."""
    if len(json.dumps(captured.environment, default=str)) > MAX_ENVIRONMENT_BYTES:
        raise ValidationError(
            f"the environment record is over {MAX_ENVIRONMENT_BYTES} bytes; it holds the "
            "platform and entry point only (packages go in the package list)"
        )
    found: list[tuple[str, ArtifactRef, str]] = []
    blobs = [("environment/requirements.txt", captured.packages_digest, "text/plain")]
    if captured.diff_digest is not None:
        blobs.append(("code/uncommitted.diff", captured.diff_digest, "text/x-diff"))
    for path, digest, media in blobs:
        if not store.exists(digest):
            raise ValidationError(
                f"{path} (blob {digest}) is not in the artifact store; store the blob "
                "before the run that names it"
            )
        found.append((path, ArtifactRef(digest, store.backend.size(digest)), media))
    return found, {**captured.environment, "packages_digest": captured.packages_digest}
