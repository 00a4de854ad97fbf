"""The background checkpointer syncs the database file through a descriptor SQLite holds,
never one of its own (closing any descriptor of a file drops the process's locks on it)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from loopml.store import wal_checkpoint
from loopml.store.wal_checkpoint import WalCheckpointer, sync_database_file


def _try_write(database: str, results: Any) -> None:
    """Another process: can it take the write lock at once?"""
    conn = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        results.put("locked it")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        results.put(str(exc))
    finally:
        conn.close()


def test_a_sync_keeps_the_locks_sqlite_holds(tmp_path: Path) -> None:
    """In rollback-journal mode a writer's lock is a POSIX lock on the database file itself:
    had the sync opened and closed a descriptor of its own, the lock would be gone and the
    other process would get in."""
    database = str(tmp_path / "locks.db")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")

    assert sync_database_file(database) is True

    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    other = ctx.Process(target=_try_write, args=(database, results))
    other.start()
    other.join(timeout=60)
    assert results.get(timeout=5) == "database is locked"
    holder.execute("COMMIT")
    holder.close()


def test_no_descriptor_to_borrow_means_no_sync(tmp_path: Path) -> None:
    database = tmp_path / "closed.db"
    sqlite3.connect(database).close()
    before = set(os.listdir("/proc/self/fd"))

    assert sync_database_file(str(database)) is False
    assert set(os.listdir("/proc/self/fd")) == before  # nothing opened behind our back


def _checkpoint_once(checkpointer: WalCheckpointer) -> None:
    done = checkpointer.checkpoints
    checkpointer.request()
    deadline = time.monotonic() + 30
    while checkpointer.checkpoints == done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.checkpoints == done + 1


def test_every_checkpoint_round_syncs_the_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = str(tmp_path / "wal.db")
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE t (x)")
    reader = sqlite3.connect(database, isolation_level=None)
    synced: list[tuple[str, bool]] = []
    real = wal_checkpoint.sync_database_file

    def counting(path: str) -> bool:
        found = real(path)
        synced.append((path, found))
        return found

    monkeypatch.setattr(wal_checkpoint, "sync_database_file", counting)
    checkpointer = WalCheckpointer(database)
    try:
        # a reader's snapshot stops a passive round before the frames written after it,
        # so SQLite leaves the pages it copied unsynced
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()
        writer.execute("INSERT INTO t VALUES (1)")
        _checkpoint_once(checkpointer)
        reader.execute("COMMIT")
        writer.execute("INSERT INTO t VALUES (2)")
        _checkpoint_once(checkpointer)

        assert synced == [(database, True)] * 2
        assert writer.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        checkpointer.close()
        reader.close()
        writer.close()
