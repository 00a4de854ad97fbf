"""Run artifacts: files and bytes stored by content, attached to a run under a path."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from loopml.artifacts import ArtifactRef
from loopml.errors import NotFoundError, ValidationError
from loopml.governance import require
from loopml.store import Stores, record_artifact
from loopml.store.schema import run_artifacts
from loopml.tracking.run_digest import audit_late_write
from loopml.tracking.run_query import resolve_run_id
from loopml.tracking.runs import require_run, run_uri


class RunArtifacts:
    """Store, list and read the artifacts of runs."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def log_artifact(self, run_id: str, source: Path, name: str | None = None) -> list[str]:
        """Store a file, or every file of a folder, under the run; returns the paths."""
        require(self.stores.actor, "write", "log artifacts")
        source = Path(source)
        if not source.exists():
            raise ValidationError(f"cannot log artifact {source}: no such file or folder")
        base = check_artifact_path(name or source.name)
        if source.is_file():
            files = [(base, source)]
        else:
            files = [
                (f"{base}/{p.relative_to(source).as_posix()}", p)
                for p in sorted(source.rglob("*"))
                if p.is_file()
            ]
        stored = [(path, self.stores.artifacts.put_file(p), _media_type(path)) for path, p in files]
        with self.engine.begin() as conn:
            status = require_run(conn, run_id)
            for path, ref, media in stored:
                self._attach(conn, run_id, path, ref, media)
            if status != "RUNNING":  # the run's end event no longer covers it
                late = [f"{path}:{ref.digest}" for path, ref, _ in stored]
                audit_late_write(conn, self.stores.actor, run_uri(run_id), artifacts=late)
        return [path for path, _, _ in stored]

    def log_artifact_bytes(
        self, run_id: str, data: bytes, name: str, media_type: str | None = None
    ) -> str:
        require(self.stores.actor, "write", "log artifacts")
        path = check_artifact_path(name)
        ref = self.stores.artifacts.put_bytes(data)
        with self.engine.begin() as conn:
            status = require_run(conn, run_id)
            self._attach(conn, run_id, path, ref, media_type or _media_type(path))
            if status != "RUNNING":
                late = [f"{path}:{ref.digest}"]
                audit_late_write(conn, self.stores.actor, run_uri(run_id), artifacts=late)
        return path

    def attach_stored(self, run_id: str, name: str, ref: ArtifactRef) -> str:
        """Record a blob already in the store (uploaded straight to the bucket, verified by
        the caller against `ref`) as the run's artifact `name`; returns its path."""
        require(self.stores.actor, "write", "log artifacts")
        path = check_artifact_path(name)
        if not self.stores.artifacts.exists(ref.digest):
            raise NotFoundError(f"artifact {ref.digest} is not in the store; upload it first")
        with self.engine.begin() as conn:
            status = require_run(conn, run_id)
            self._attach(conn, run_id, path, ref, _media_type(path))
            if status != "RUNNING":
                late = [f"{path}:{ref.digest}"]
                audit_late_write(conn, self.stores.actor, run_uri(run_id), artifacts=late)
        return path

    def _attach(
        self, conn: Connection, run_id: str, path: str, ref: ArtifactRef, media: str
    ) -> None:
        record_artifact(conn, self.engine, ref, media)
        conn.execute(
            run_artifacts.delete().where(
                run_artifacts.c.run_id == run_id, run_artifacts.c.path == path
            )
        )
        conn.execute(
            run_artifacts.insert().values(
                run_id=run_id, path=path, digest=ref.digest, size=ref.size, media_type=media
            )
        )

    def list_artifacts(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            run_id = resolve_run_id(conn, run_id)
            require_run(conn, run_id)
            rows = conn.execute(
                select(
                    run_artifacts.c.path,
                    run_artifacts.c.digest,
                    run_artifacts.c.size,
                    run_artifacts.c.media_type,
                )
                .where(run_artifacts.c.run_id == run_id)
                .order_by(run_artifacts.c.path)
            )
            return [dict(r._mapping) for r in rows]

    def artifact_digest(self, run_id: str, path: str) -> str:
        with self.engine.connect() as conn:
            run_id = resolve_run_id(conn, run_id)
            digest = conn.execute(
                select(run_artifacts.c.digest).where(
                    run_artifacts.c.run_id == run_id, run_artifacts.c.path == path
                )
            ).scalar()
        if digest is None:
            raise NotFoundError(
                f"run {run_id} has no artifact {path!r}; list them with `loopml runs show {run_id}`"
            )
        return str(digest)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self.stores.artifacts.read_bytes(self.artifact_digest(run_id, path))


def check_artifact_path(name: str) -> str:
    """A relative artifact path (forward slashes, no `..`), or a ValidationError."""
    path = name.replace("\\", "/").strip("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")) or len(path) > 1000:
        raise ValidationError(f"artifact name {name!r} must be a relative path without '..'")
    return path


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
