"""Migrations: applied on SQLite and PostgreSQL, idempotent, equal to `schema.py`."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import queue
import time
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from loopml.store import create_store_engine, metadata, upgrade_to_head
from loopml.store.migrate import alembic_config, current_revision, head_revision


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_heads() == [head_revision()]


def test_upgrade_creates_every_table(engine: Engine) -> None:
    assert current_revision(engine) is None

    upgrade_to_head(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_upgrade_is_idempotent_and_cheap(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_to_head(engine)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments VALUES ('e-1', 'kept', NULL, 'me', 1.0)"),
        )

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("alembic ran although the schema is current")

    monkeypatch.setattr(command, "upgrade", must_not_run)  # the module migrate.py calls
    upgrade_to_head(engine)
    upgrade_to_head(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM experiments")).scalar_one() == "kept"


def test_schema_from_migrations_matches_the_metadata(engine: Engine) -> None:
    upgrade_to_head(engine)

    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)

    assert diffs == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    upgrade_to_head(engine)

    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}

    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()


# ---------------------------------------------------------------------- several processes
def _open_store(url: str, barrier: Any, results: Any) -> None:
    """Child process: wait for the others, then open (and migrate) the store."""
    try:
        barrier.wait(timeout=120)
        engine = create_store_engine(url)
        upgrade_to_head(engine)
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM dataset_versions")).scalar()
        results.put(current_revision(engine))
        engine.dispose()
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def open_store_in_processes(
    ctx: multiprocessing.context.SpawnContext, url: str, processes: int = 4
) -> list[Any]:
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    children = [
        ctx.Process(target=_open_store, args=(url, barrier, results)) for _ in range(processes)
    ]
    for child in children:
        child.start()
    outcomes: list[Any] = []
    deadline = time.monotonic() + 120
    try:
        while len(outcomes) < processes and time.monotonic() < deadline:
            try:
                outcomes.append(results.get(timeout=0.5))
            except queue.Empty:
                if not any(child.is_alive() for child in children) and results.empty():
                    break  # a child died before reporting: fail now, not at the deadline
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    assert [child.exitcode for child in children] == [0] * processes
    return outcomes


def test_processes_opening_a_fresh_store_at_once_all_succeed(
    store_url: str, spawn_context: multiprocessing.context.SpawnContext
) -> None:
    outcomes = open_store_in_processes(spawn_context, store_url)

    assert outcomes == [head_revision()] * 4
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_the_sqlite_migration_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'loopml.db'}")
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()

    assert (tmp_path / "loopml.db.migrate.lock").exists()
