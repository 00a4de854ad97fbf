"""Tables: every constraint named (so migrations can alter it) and enforced on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from loopml.store import create_store_engine, metadata, upgrade_to_head
from loopml.store.schema import dataset_versions, experiments, runs


@pytest.fixture
def migrated(engine: Engine) -> Iterator[Engine]:
    upgrade_to_head(engine)
    yield engine


def test_every_constraint_and_index_has_a_name() -> None:
    unnamed = [
        f"{table.name}: {type(item).__name__}"
        for table in metadata.tables.values()
        for item in (*table.constraints, *table.indexes)
        if not getattr(item, "name", None)
    ]

    assert unnamed == []


@pytest.mark.postgres
def test_primary_keys_follow_the_naming_convention(pg_url: str) -> None:
    """Checked on PostgreSQL only: SQLite does not keep primary key names."""
    engine = create_store_engine(pg_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as conn:
            inspector = inspect(conn)
            names = {t: inspector.get_pk_constraint(t)["name"] for t in metadata.tables}
    finally:
        engine.dispose()

    assert names == {t: f"pk_{t}" for t in metadata.tables}


def _dataset_row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "ds-00000001", "name": "bikes", "version": 1, "content_hash": "h1",
        "format": "parquet", "layout": "file", "storage": {"files": []}, "schema": [],
        "row_count": 0, "size": 0, "profile": {}, "created_by": "me", "created_at": 1.0,
    }  # fmt: skip
    row.update(values)
    return row


@pytest.mark.parametrize(
    "duplicate",
    [
        {"id": "ds-00000002", "content_hash": "h2"},  # same (name, version)
        {"id": "ds-00000002", "version": 2},  # same (name, content_hash)
        {"name": "other", "version": 2, "content_hash": "h2"},  # same id
    ],
)
def test_dataset_version_uniqueness_is_enforced(
    migrated: Engine, duplicate: dict[str, object]
) -> None:
    with migrated.begin() as conn:
        conn.execute(dataset_versions.insert().values(**_dataset_row()))

    with pytest.raises(IntegrityError), migrated.begin() as conn:
        conn.execute(dataset_versions.insert().values(**_dataset_row(**duplicate)))


def test_foreign_keys_are_enforced(migrated: Engine) -> None:
    run = {
        "id": "run-1", "experiment_id": "no-such-experiment", "name": "r", "status": "RUNNING",
        "start_time": 1.0, "created_by": "me", "journal_offset": 0,
    }  # fmt: skip

    with pytest.raises(IntegrityError), migrated.begin() as conn:
        conn.execute(runs.insert().values(**run))


def test_experiment_names_are_unique(migrated: Engine) -> None:
    row = {"name": "e", "created_by": "me", "created_at": 1.0}
    with migrated.begin() as conn:
        conn.execute(experiments.insert().values(id="e-1", **row))

    with pytest.raises(IntegrityError), migrated.begin() as conn:
        conn.execute(experiments.insert().values(id="e-2", **row))


def test_json_columns_round_trip(migrated: Engine) -> None:
    profile = {"x": {"mean": 1.5, "top": [{"value": "é", "count": 2}], "missing": None}}
    with migrated.begin() as conn:
        conn.execute(dataset_versions.insert().values(**_dataset_row(profile=profile)))

    with migrated.connect() as conn:
        stored = conn.execute(text("SELECT id FROM dataset_versions")).scalar_one()
        loaded = conn.execute(
            dataset_versions.select().where(dataset_versions.c.id == stored)
        ).one()
    assert loaded.profile == profile
