"""Engines for the metadata store, with SQLite set up for several processes at once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from loopml.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 60_000
# Reads map the database file instead of copying pages through read(2): a search page at a
# million runs looks up a few thousand scattered index pages. SQLite caps the size at its
# compile-time limit (2 GiB by default); writes still go through the WAL.
SQLITE_MMAP_BYTES = 2**31
# Pages past the map (a store over 2 GiB, about a million runs) are copied through read(2)
# into the connection's page cache, which SQLite sizes at 2 MiB by default: too small for a
# search page's few thousand scattered pages, so each page read them again (12 % of a
# filtered, ordered page at a million runs). The cache grows only as pages are read past
# the map; a smaller store never fills it.
SQLITE_READ_CACHE_KIB = 64 * 1024
# A pooled PostgreSQL connection is pinged before use only when it sat idle this long: a
# ping per transaction was a round trip in five of a run's few (three per run), and a
# connection given back a moment ago is as alive as a ping would show.
PG_PING_AFTER_IDLE_S = 1.0
# The longest pause between tries of a journal-mode switch that found the file locked.
_WAL_RETRY_MAX_PAUSE_S = 0.05


def switch_to_wal(dbapi_conn: sqlite3.Connection, timeout_s: float) -> None:
    """PRAGMA journal_mode = WAL, retried while the file is busy for up to `timeout_s`.

    On a file still in rollback mode the switch reads, then asks for the write lock; when
    another connection holds that lock (several processes opening a fresh store at once,
    one of them switching it too), SQLite returns SQLITE_BUSY at once instead of calling
    the busy handler, since a reader waiting for a writer could deadlock. Once the file is
    in WAL the switch is a no-op and takes no lock, so this loops only on a fresh store.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _WAL_RETRY_MAX_PAUSE_S)


def _prepare_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, memory-mapped reads, and BEGIN IMMEDIATE so writers queue
    instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        switch_to_wal(dbapi_conn, SQLITE_BUSY_TIMEOUT_MS / 1000)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_READ_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight on the DBAPI connection: every write transaction starts here, and the
        # statement machinery would cost more than SQLite spends on the BEGIN itself.
        run_sqlite(conn.connection.dbapi_connection, "BEGIN IMMEDIATE")


def run_sqlite(dbapi_connection: Any, sql: str) -> None:
    """A transaction statement (BEGIN IMMEDIATE, COMMIT) straight on a sqlite3
    connection; an error is raised as SQLAlchemy raises errors of statements it runs."""
    try:
        dbapi_connection.execute(sql)
    except sqlite3.Error as err:
        raise DBAPIError.instance(sql, (), err, sqlite3.Error) from err


def _prepare_postgresql(engine: Engine) -> None:
    """Ping a connection checked out after PG_PING_AFTER_IDLE_S idle; a dead one is
    replaced by a fresh connection before the caller's transaction begins (the pool's
    documented pessimistic check, minus the pings of connections just used)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PG_PING_AFTER_IDLE_S:
            return  # a new connection, or one given back a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"the pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("the pooled connection is gone")


def create_store_engine(url: str) -> Engine:
    """An engine for `url` (sqlite:///… or postgresql+psycopg://…)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"store URL {url!r} is malformed: use sqlite:///PATH or postgresql+psycopg://HOST/DB"
        ) from exc
    if url.startswith("sqlite"):
        path = parsed.database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
        else:
            # One in-memory database lives as long as its connection: share a single one.
            engine = create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        _prepare_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        try:
            engine = create_engine(url, pool_size=5, max_overflow=5)
        except (ModuleNotFoundError, NoSuchModuleError) as exc:
            raise ConfigError(
                f"no driver for {url!r}: use postgresql+psycopg://"
                " and pip install 'loopml[postgres]'"
            ) from exc
        _prepare_postgresql(engine)
        return engine
    raise ConfigError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql+psycopg://")


def dialect_insert(engine: Engine) -> Any:
    """The dialect's INSERT construct, which supports ON CONFLICT upserts."""
    if engine.dialect.name == "sqlite":
        return sqlite.insert
    if engine.dialect.name == "postgresql":
        return postgresql.insert
    raise ConfigError(f"no upsert support for dialect {engine.dialect.name}")
