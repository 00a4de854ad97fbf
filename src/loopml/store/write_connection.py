"""One connection held open for the transactions every run makes (create, log, end).

A run of a training script costs three short write transactions. On SQLite, checking a
connection out of the pool and back in for each costs about as much CPU as SQLite spends on
the transaction itself, and SQLite admits one writer at a time anyway; so the hot tracking
writes of a process share one connection, taken in turn under a lock (the single writer
path of STYLE.md). Other writes keep using the pool. On PostgreSQL, where writers do run
side by side, every transaction still takes its own pooled connection.

On SQLite the held connection's transactions are run on the DBAPI connection itself
(BEGIN IMMEDIATE, COMMIT or ROLLBACK): SQLAlchemy's transaction objects and event dispatch
cost more CPU than SQLite's own BEGIN. Callers still get a `Connection` (it never begins a
transaction of its own: the DBAPI one is open), and the audit seal is told of the outcome
directly: the checkpoint of a transaction that appended events is written right after its
COMMIT succeeded, and dropped on a rollback or a failed COMMIT (store/seal.py). The held
connection leaves SQLite's WAL checkpoints to a background thread (wal_checkpoint.py).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from loopml.store.engine import run_sqlite
from loopml.store.seal import commit_staged, discard_staged
from loopml.store.wal_checkpoint import WalCheckpointer, hold_pages

# SQLite's default page cache (KiB), which the engine's connections raise for readers; see
# the note in `_connection` for why the writer keeps it.
WRITE_CACHE_KIB = 2000


class WriteConnection:
    """`begin()` gives a connection inside a new transaction, committed when the block
    ends without an exception and rolled back otherwise (as `Engine.begin`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.held = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = os.getpid()
        database = engine.url.database
        self.checkpointer = (
            WalCheckpointer(database) if self.held and database and database != ":memory:" else None
        )

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        if not self.held:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._lock:
            conn = self._connection()
            dbapi_connection = conn.connection.dbapi_connection
            info = conn.info
            run_sqlite(dbapi_connection, "BEGIN IMMEDIATE")
            try:
                yield conn
                run_sqlite(dbapi_connection, "COMMIT")
            except BaseException:
                discard_staged(info)  # nothing was committed: no checkpoint line
                self._roll_back(conn, dbapi_connection)
                raise
            if self.checkpointer is not None:
                self.checkpointer.committed()
            commit_staged(self.engine, info)

    def _roll_back(self, conn: Connection, dbapi_connection: Any) -> None:
        """End the open transaction, if any (a failed COMMIT may leave it open); a
        connection that cannot roll back, or that SQLAlchemy invalidated, is replaced."""
        try:
            if dbapi_connection is not None and dbapi_connection.in_transaction:
                dbapi_connection.rollback()
        except sqlite3.Error:
            self._drop()
            return
        if conn.invalidated:  # the database went away: start afresh next time
            self._drop()

    def _connection(self) -> Connection:
        if self._pid != os.getpid():  # a forked child never shares its parent's handle
            self._conn, self._pid = None, os.getpid()
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self.engine.connect()
            # The DBAPI transaction `begin` opens is the transaction: a statement executed
            # through the Connection must not begin one of its own (SQLAlchemy's autobegin
            # would send a second BEGIN). The flag is SQLAlchemy's, used by its own
            # first-connect Connection; tests/store/test_write_connection.py checks it.
            conn._allow_autobegin = False
            self._conn = conn
            if self.checkpointer is not None:
                dbapi_connection = self._conn.connection.dbapi_connection
                hold_pages(dbapi_connection)  # type: ignore[arg-type]
                # Writes copy each page they change out of a memory map first and cost
                # more CPU than through read(2): the map is for readers (engine.py).
                dbapi_connection.execute("PRAGMA mmap_size = 0")  # type: ignore[union-attr]
                dbapi_connection.execute(  # type: ignore[union-attr]
                    f"PRAGMA cache_size = -{WRITE_CACHE_KIB}"
                )
                # The page cache keeps SQLite's default (2 MiB) on purpose: the end of every
                # write transaction walks the cache's hash table (pcache1 truncation), so a
                # bigger cache made each commit slower in proportion. At 100k runs a 64 MiB
                # cache cost more per commit than the read(2) calls it saved; missed pages come
                # back from the OS page cache.
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Give the connection back (before the engine is disposed)."""
        with self._lock:
            if self._pid == os.getpid():
                self._drop()
        if self.checkpointer is not None:
            self.checkpointer.close()
