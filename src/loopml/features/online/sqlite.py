"""The embedded online store: one SQLite file, one table per view keyed by the entity key.

A single integer join key is the table's rowid (the fastest lookup SQLite has); other keys
are stored as text. Every thread reads through its own connection; WAL lets materialization
write while requests read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from loopml.features.online.base import (
    Key,
    OnlineCapabilities,
    Row,
    ViewLayout,
    ViewRead,
    key_text,
)
from loopml.store.engine import switch_to_wal

# How long a write waits for another writer, and a fresh file's switch to WAL for another
# opener holding its lock.
BUSY_TIMEOUT_MS = 30_000
_AFFINITY = {
    "float64": "REAL",
    "int64": "INTEGER",
    "string": "TEXT",
    "bool": "INTEGER",
    "timestamp": "REAL",
}


def table_of(view: str) -> str:
    return '"fv_' + view.replace('"', "") + '"'


class SQLiteOnlineStore:
    capabilities = OnlineCapabilities("sqlite", shared=False, round_trips_per_read=1)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._statements: dict[tuple[str, tuple[str, ...], int], str] = {}
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn()  # fail early on an unusable path

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            switch_to_wal(conn, BUSY_TIMEOUT_MS / 1000)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def prepare(self, layout: ViewLayout) -> None:
        conn = self._conn()
        table = table_of(layout.view)
        key = "k INTEGER PRIMARY KEY" if layout.integer_key else "k TEXT PRIMARY KEY"
        columns = ", ".join(f'"{n}" {_AFFINITY[t]}' for n, t in layout.features)
        rowid = "" if layout.integer_key else " WITHOUT ROWID"
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({key}, __ts REAL NOT NULL, {columns}){rowid}"
        )
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        for name, dtype in layout.features:
            if name not in present:
                conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {_AFFINITY[dtype]}')

    def write(
        self,
        layout: ViewLayout,
        keys: Sequence[Key],
        timestamps: Sequence[float],
        rows: Sequence[Row],
    ) -> int:
        conn = self._conn()
        names = [n for n, _ in layout.features]
        columns = ", ".join(f'"{n}"' for n in names)
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in [*names, "__ts"])
        sql = (
            f"INSERT INTO {table_of(layout.view)} (k, __ts, {columns}) "
            f"VALUES ({', '.join('?' * (len(names) + 2))}) "
            f"ON CONFLICT (k) DO UPDATE SET {updates} WHERE excluded.__ts >= __ts"
        )
        if layout.integer_key:
            params = [(k[0], t, *r) for k, t, r in zip(keys, timestamps, rows, strict=True)]
        else:
            params = [(key_text(k), t, *r) for k, t, r in zip(keys, timestamps, rows, strict=True)]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return len(params)

    def _select(self, view: str, features: tuple[str, ...], n: int) -> str:
        statement = self._statements.get((view, features, n))
        if statement is None:
            columns = ", ".join(f'"{f}"' for f in features)
            where = "k = ?" if n == 1 else f"k IN ({', '.join('?' * n)})"
            statement = f"SELECT k, __ts, {columns} FROM {table_of(view)} WHERE {where}"
            self._statements[(view, features, n)] = statement
        return statement

    def read(self, reads: Sequence[ViewRead]) -> list[list[tuple[float, Row] | None]]:
        conn = self._conn()
        answers: list[list[tuple[float, Row] | None]] = []
        for item in reads:
            layout = item.layout
            ids = (
                [k[0] for k in item.keys]
                if layout.integer_key
                else [key_text(k) for k in item.keys]
            )
            try:
                if len(ids) == 1:
                    row = conn.execute(self._select(layout.view, item.features, 1), ids).fetchone()
                    answers.append([(row[1], tuple(row[2:])) if row is not None else None])
                    continue
                found = {
                    r[0]: (r[1], tuple(r[2:]))
                    for r in conn.execute(self._select(layout.view, item.features, len(ids)), ids)
                }
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                answers.append([None] * len(ids))
                continue
            answers.append([found.get(i) for i in ids])
        return [_typed(item, found) for item, found in zip(reads, answers, strict=True)]

    def count(self, view: str) -> int:
        try:
            row = self._conn().execute(f"SELECT count(*) FROM {table_of(view)}").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def drop(self, view: str) -> None:
        self._conn().execute(f"DROP TABLE IF EXISTS {table_of(view)}")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def _typed(item: ViewRead, found: list[tuple[float, Row] | None]) -> list[tuple[float, Row] | None]:
    """SQLite keeps booleans as 0/1: give them back as bool."""
    types = dict(item.layout.features)
    flags = [types[f] == "bool" for f in item.features]
    if not any(flags):
        return found
    return [
        None
        if entry is None
        else (
            entry[0],
            tuple(
                bool(v) if flag and v is not None else v
                for flag, v in zip(flags, entry[1], strict=True)
            ),
        )
        for entry in found
    ]
