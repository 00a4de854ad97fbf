"""One connection held open for the transactions every run makes (create, log, end).

A run of a training script costs three short write transactions. On SQLite, checking a
connection out of the pool and back in for each costs about as much CPU as SQLite spends on
the transaction itself, and SQLite admits one writer at a time anyway; so the hot tracking
writes of a process share one connection, taken in turn under a lock (the single writer
path of STYLE.md). Other writes keep using the pool. On PostgreSQL, where writers do run
side by side, every transaction still takes its own pooled connection.

The audit checkpoint of a transaction that appended events is written right after its
commit (store/seal.py), as when a pooled connection goes back to the pool. The held
connection leaves SQLite's WAL checkpoints to a background thread (wal_checkpoint.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from loopml.store.seal import checkpoint_committed
from loopml.store.wal_checkpoint import WalCheckpointer, hold_pages


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
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                if conn.invalidated:  # the database went away: start afresh next time
                    self._drop()
                raise
            else:
                if self.checkpointer is not None:
                    self.checkpointer.committed()
            finally:
                checkpoint_committed(conn)

    def _connection(self) -> Connection:
        if self._pid != os.getpid():  # a forked child never shares its parent's handle
            self._conn, self._pid = None, os.getpid()
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect()
            if self.checkpointer is not None:
                dbapi_connection = self._conn.connection.dbapi_connection
                hold_pages(dbapi_connection)  # type: ignore[arg-type]
                # Writes copy each page they change out of a memory map first and cost
                # more CPU than through read(2): the map is for readers (engine.py).
                dbapi_connection.execute("PRAGMA mmap_size = 0")  # type: ignore[union-attr]
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
