"""Artifact rows: written once, whoever stores the blob first."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from loopml.artifacts import ArtifactRef
from loopml.store import dialect_insert, record_artifact, upgrade_to_head
from loopml.store.schema import artifacts


def test_record_artifact_is_idempotent(engine: Engine) -> None:
    upgrade_to_head(engine)
    ref = ArtifactRef("ab" * 32, 42)

    with engine.begin() as conn:
        record_artifact(conn, engine, ref, "text/plain")
    with engine.begin() as conn:
        record_artifact(conn, engine, ref, "application/octet-stream")
        record_artifact(conn, engine, ArtifactRef("cd" * 32, 7), "text/csv")

    with engine.connect() as conn:
        rows = conn.execute(
            select(artifacts.c.digest, artifacts.c.size, artifacts.c.media_type).order_by(
                artifacts.c.digest
            )
        ).all()
    assert [tuple(r) for r in rows] == [("ab" * 32, 42, "text/plain"), ("cd" * 32, 7, "text/csv")]


def test_dialect_insert_matches_the_engine(engine: Engine) -> None:
    expected = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[engine.dialect.name]

    assert dialect_insert(engine) is expected
