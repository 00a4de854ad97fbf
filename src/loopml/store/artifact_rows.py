"""The `artifacts` table's rows: one per stored blob, written once whoever stores it first."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine

from loopml.artifacts import ArtifactRef
from loopml.store.engine import dialect_insert
from loopml.store.schema import artifacts

_ARTIFACT_UPSERTS: dict[str, Any] = {}


def record_artifact(conn: Connection, engine: Engine, ref: ArtifactRef, media_type: str) -> None:
    """Insert the artifact's row unless it is already known."""
    statement = _ARTIFACT_UPSERTS.get(engine.dialect.name)
    if statement is None:
        statement = dialect_insert(engine)(artifacts).on_conflict_do_nothing(
            index_elements=["digest"]
        )
        _ARTIFACT_UPSERTS[engine.dialect.name] = statement
    conn.execute(
        statement,
        {
            "digest": ref.digest,
            "size": ref.size,
            "media_type": media_type,
            "created_at": time.time(),
        },
    )
