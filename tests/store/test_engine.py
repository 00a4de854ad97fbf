"""Engines: SQLite set up for several writers (WAL, busy timeout, BEGIN IMMEDIATE)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError

from loopml.errors import ConfigError
from loopml.store import create_store_engine, upgrade_to_head
from loopml.store import engine as engine_module
from loopml.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_MMAP_BYTES,
    SQLITE_READ_CACHE_KIB,
)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'nested' / 'dirs' / 'loopml.db'}")
    yield engine
    engine.dispose()


def test_creates_the_folder_of_the_sqlite_file(tmp_path: Path, sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        conn.execute(text("SELECT 1"))

    assert (tmp_path / "nested" / "dirs" / "loopml.db").is_file()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        ("journal_mode", "wal"),
        ("busy_timeout", SQLITE_BUSY_TIMEOUT_MS),
        ("foreign_keys", 1),
        ("synchronous", 1),  # NORMAL: safe with WAL, one fsync per checkpoint
        ("cache_size", -SQLITE_READ_CACHE_KIB),  # pages read past the memory map stay
    ],
)
def test_sqlite_pragmas_are_set_on_every_connection(
    sqlite_engine: Engine, pragma: str, expected: object
) -> None:
    for _ in range(2):
        with sqlite_engine.connect() as conn:
            assert conn.exec_driver_sql(f"PRAGMA {pragma}").scalar() == expected


def test_sqlite_reads_through_a_memory_map(sqlite_engine: Engine) -> None:
    """SQLite caps the size at its compile-time limit, so the value is at most ours."""
    for _ in range(2):
        with sqlite_engine.connect() as conn:
            mapped = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
            assert isinstance(mapped, int) and 0 < mapped <= SQLITE_MMAP_BYTES


def test_a_transaction_takes_the_write_lock_when_it_begins(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    """BEGIN IMMEDIATE: a second writer waits at BEGIN instead of failing mid-transaction."""
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(tmp_path / "nested" / "dirs" / "loopml.db", timeout=0)
    try:
        with sqlite_engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM t")).scalar()  # a read starts the transaction
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_begin_that_cannot_take_the_lock_raises_the_usual_error(sqlite_engine: Engine) -> None:
    @event.listens_for(sqlite_engine, "connect")
    def _no_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 0")

    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(str(sqlite_engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with (
            pytest.raises(OperationalError, match="database is locked"),
            sqlite_engine.begin() as conn,
        ):
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with sqlite_engine.begin() as conn:  # the pool's connection is still good
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [2]


def _hold_the_write_lock(engine: Engine) -> sqlite3.Connection:
    """A connection of another opener holding a fresh file's write lock, still in rollback
    mode: where the first connection of another process is while it switches to WAL."""
    holder = sqlite3.connect(
        str(engine.url.database), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_opening_a_fresh_store_while_another_opener_holds_the_lock_waits(
    sqlite_engine: Engine,
) -> None:
    """Switching to WAL on a fresh file gets SQLITE_BUSY at once, without the busy handler."""
    holder = _hold_the_write_lock(sqlite_engine)
    release = threading.Timer(0.3, holder.rollback)
    release.start()
    try:
        with sqlite_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        release.join()
        holder.close()


def test_opening_a_fresh_store_gives_up_after_the_busy_timeout(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = _hold_the_write_lock(sqlite_engine)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            sqlite_engine.connect().close()
        assert 0.1 <= time.monotonic() - started < 5
    finally:
        holder.close()
    with sqlite_engine.connect() as conn:  # once the lock is free, the store opens
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_file_that_is_no_database_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "loopml.db"
    path.write_bytes(b"not a database, just some bytes" * 100)
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseError, match="not a database"):
            engine.connect().close()
        assert time.monotonic() - started < 1
    finally:
        engine.dispose()


def test_concurrent_read_modify_write_loses_no_update(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            for _ in range(25):
                with sqlite_engine.begin() as conn:
                    n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                    conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 100


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_store_keeps_its_schema_across_connections(url: str) -> None:
    engine = create_store_engine(url)
    try:
        upgrade_to_head(engine)
        seen: list[str] = []

        def read_tables() -> None:
            with engine.connect() as conn:
                seen.extend(inspect(conn).get_table_names())

        thread = threading.Thread(target=read_tables)
        thread.start()
        thread.join()

        assert "dataset_versions" in seen
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_engine(pg_url: str) -> None:
    engine = create_store_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_connection_that_died_idle_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle past the ping delay, a pooled connection the server dropped is swapped for a
    fresh one before the transaction; one given back a moment ago is not pinged at all."""
    engine = create_store_engine(pg_url)
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return bool(ping(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as conn:  # given back a moment ago: no ping
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first
        assert pings == []
        admin = create_store_engine(pg_url)
        with admin.connect() as other:  # the server ends it while it sits in the pool
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            other.commit()
        admin.dispose()
        monkeypatch.setattr(engine_module, "PG_PING_AFTER_IDLE_S", 0.0)

        with engine.connect() as conn:
            again = conn.execute(text("SELECT pg_backend_pid()")).scalar()

        assert again != first and len(pings) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://h/db", "unsupported store URL 'mysql://h/db'"),
        ("sqlite:relative.db", "malformed"),
        ("postgresql+nosuchdriver://h/db", "no driver for"),
    ],
)
def test_unusable_store_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_store_engine(url)
