"""The SQLite online store opened by several processes at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from loopml.features.online import sqlite as online_sqlite
from loopml.features.online.sqlite import SQLiteOnlineStore


def _hold_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another opener's connection holding a fresh file's write lock, still in rollback mode."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_opening_a_fresh_file_while_another_opener_holds_the_lock_waits(tmp_path: Path) -> None:
    path = tmp_path / "online.db"
    holder = _hold_the_write_lock(path)
    release = threading.Timer(0.3, holder.rollback)
    release.start()
    try:
        store = SQLiteOnlineStore(path)
    finally:
        release.join()
        holder.close()
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        store.close()


def test_opening_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(online_sqlite, "BUSY_TIMEOUT_MS", 200)
    holder = _hold_the_write_lock(tmp_path / "online.db")
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            SQLiteOnlineStore(tmp_path / "online.db")
    finally:
        holder.close()
