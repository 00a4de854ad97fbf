"""Migration 0028: latest metric values written before it get their run's experiment, so
an ordered search of one experiment (which walks only its entries) still finds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from loopml.store import create_store_engine, upgrade_to_head
from loopml.store.migrate import alembic_config


def _run(conn: object, run_id: str, experiment: str) -> None:
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO runs (id, experiment_id, name, status, start_time, journal_offset, "
            "created_by) VALUES (:id, :exp, :id, 'FINISHED', 1.0, 0, 't')"
        ),
        {"id": run_id, "exp": experiment},
    )


def test_existing_latest_metrics_get_their_runs_experiment(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "0027")
    with engine.begin() as conn:
        for exp in ("exp-a", "exp-b"):
            conn.execute(
                text(
                    "INSERT INTO experiments (id, name, created_by, created_at) "
                    "VALUES (:id, :id, 't', 1.0)"
                ),
                {"id": exp},
            )
        _run(conn, "run-a1", "exp-a")
        _run(conn, "run-b1", "exp-b")
        conn.execute(
            text(
                'INSERT INTO latest_metrics (run_id, "key", step, timestamp, value) VALUES '
                "('run-a1', 'm1', 0, 1.0, 0.5), ('run-a1', 'm2', 3, 1.0, 0.1), "
                "('run-b1', 'm1', 0, 1.0, 0.9)"
            )
        )

    upgrade_to_head(engine)

    with engine.connect() as conn:
        found = conn.execute(
            text('SELECT run_id, "key", experiment_id, value FROM latest_metrics ORDER BY 1, 2')
        ).all()
    assert [tuple(r) for r in found] == [
        ("run-a1", "m1", "exp-a", 0.5),
        ("run-a1", "m2", "exp-a", 0.1),
        ("run-b1", "m1", "exp-b", 0.9),
    ]
    with pytest.raises(IntegrityError), engine.begin() as conn:  # no row without one
        conn.execute(
            text(
                'INSERT INTO latest_metrics (run_id, "key", step, timestamp, value) '
                "VALUES ('run-b1', 'm9', 0, 1.0, 0.0)"
            )
        )

    command.downgrade(alembic_config(engine), "0027")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM latest_metrics")).scalar_one() == 3


def test_an_analyzed_sqlite_store_keeps_its_latest_metrics_statistics(tmp_path: Path) -> None:
    """SQLite rebuilds the table (PostgreSQL alters it in place and keeps its statistics)."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'loopml.db'}")
    command.upgrade(alembic_config(engine), "0027")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (id, name, created_by, created_at) "
                "VALUES ('exp-a', 'exp-a', 't', 1.0)"
            )
        )
        _run(conn, "run-a1", "exp-a")
        conn.execute(
            text(
                'INSERT INTO latest_metrics (run_id, "key", step, timestamp, value) '
                "VALUES ('run-a1', 'm1', 0, 1.0, 0.5)"
            )
        )
        conn.execute(text("ANALYZE"))

    upgrade_to_head(engine)

    with engine.connect() as conn:
        indexes = conn.execute(
            text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'latest_metrics'")
        ).scalars()
        assert "ix_latest_metrics_experiment_key_value" in set(indexes)
    engine.dispose()
