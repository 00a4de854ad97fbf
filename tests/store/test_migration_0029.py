"""Migration 0029: params, tags and latest_metrics become WITHOUT ROWID tables on SQLite,
with every row, index, constraint and statistic kept; PostgreSQL is left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from loopml.store import create_store_engine, metadata, upgrade_to_head
from loopml.store.migrate import alembic_config

KEYED = ("params", "tags", "latest_metrics")
_ROWS = {
    "params": 'SELECT run_id, "key", value FROM params ORDER BY 1, 2',
    "tags": 'SELECT run_id, "key", value FROM tags ORDER BY 1, 2',
    "latest_metrics": 'SELECT run_id, "key", step, timestamp, value, experiment_id '
    "FROM latest_metrics ORDER BY 1, 2",
}


def _fill(conn: Any) -> None:
    conn.execute(
        text(
            "INSERT INTO experiments (id, name, created_by, created_at) "
            "VALUES ('exp-a', 'exp-a', 't', 1.0)"
        )
    )
    for run_id in ("run-b", "run-a", "run-c"):  # not in key order
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, start_time, "
                "journal_offset, created_by) VALUES (:id, 'exp-a', :id, 'FINISHED', 1.0, 0, 't')"
            ),
            {"id": run_id},
        )
        for key in ("z", "a", "lr"):
            values = {"run": run_id, "key": key, "value": f"{run_id}/{key}"}
            conn.execute(text("INSERT INTO params VALUES (:run, :key, :value)"), values)
            conn.execute(text("INSERT INTO tags VALUES (:run, :key, :value)"), values)
            conn.execute(
                text(
                    'INSERT INTO latest_metrics (run_id, "key", step, timestamp, value, '
                    "experiment_id) VALUES (:run, :key, 3, 2.5, :number, 'exp-a')"
                ),
                {**values, "number": len(run_id + key) / 7},
            )


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in _ROWS.items()}


def _without_rowid(engine: Engine) -> dict[str, bool]:
    with engine.connect() as conn:
        return {
            name: "WITHOUT ROWID"
            in conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"),
                {"n": name},
            ).scalar_one()
            for name in KEYED
        }


def _indexes(engine: Engine, table: str) -> set[str]:
    """Its named indexes; a rowid table also has SQLite's own one for the primary key."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
                {"t": table},
            ).scalars()
        )


def test_a_sqlite_store_is_rebuilt_with_every_row_and_back(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'loopml.db'}")
    command.upgrade(alembic_config(engine), "0028")
    with engine.begin() as conn:
        _fill(conn)
    before = _rows(engine)
    indexes = _indexes(engine, "latest_metrics")
    assert _without_rowid(engine) == dict.fromkeys(KEYED, False)
    assert "sqlite_autoindex_latest_metrics_1" in indexes

    upgrade_to_head(engine)

    assert _without_rowid(engine) == dict.fromkeys(KEYED, True)
    assert _rows(engine) == before
    # the primary key is the table now: no second B-tree for it
    assert _indexes(engine, "latest_metrics") == indexes - {"sqlite_autoindex_latest_metrics_1"}
    assert {"ix_latest_metrics_experiment_key_value", "ix_latest_metrics_key_value"} <= indexes
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    # the primary key and the foreign key still hold
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO params VALUES ('run-a', 'lr', 'again')"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO tags VALUES ('run-nobody', 'k', 'v')"))

    command.downgrade(alembic_config(engine), "0028")

    assert _without_rowid(engine) == dict.fromkeys(KEYED, False)
    assert _rows(engine) == before
    assert _indexes(engine, "latest_metrics") == indexes
    engine.dispose()


def test_the_metadata_makes_the_same_tables_as_the_migrations(tmp_path: Path) -> None:
    """`metadata.create_all` (tests, tools) and the migrations agree on WITHOUT ROWID,
    which the autogenerate comparison does not look at."""
    migrated = create_store_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade_to_head(migrated)
    created = create_engine(f"sqlite:///{tmp_path / 'created.db'}")
    metadata.create_all(created)

    assert _without_rowid(migrated) == _without_rowid(created) == dict.fromkeys(KEYED, True)
    migrated.dispose()
    created.dispose()


def test_an_analyzed_sqlite_store_keeps_statistics_of_the_rebuilt_tables(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'loopml.db'}")
    command.upgrade(alembic_config(engine), "0028")
    with engine.begin() as conn:
        _fill(conn)
        conn.execute(text("ANALYZE"))

    upgrade_to_head(engine)

    with engine.connect() as conn:
        tables = set(conn.execute(text("SELECT tbl FROM sqlite_stat1")).scalars())
    assert set(KEYED) <= tables
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_keeps_its_tables_and_rows(pg_url: str) -> None:
    engine = create_store_engine(pg_url)
    command.upgrade(alembic_config(engine), "0028")
    with engine.begin() as conn:
        _fill(conn)
    before = _rows(engine)

    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "0028")
    upgrade_to_head(engine)

    assert _rows(engine) == before
    engine.dispose()
