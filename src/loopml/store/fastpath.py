"""Prebuilt statements run straight on the DBAPI cursor of the current transaction.

Run tracking creates a handful of rows per run; building and executing each through
SQLAlchemy's expression layer costs several times what the database itself spends. A
`RawStatement` is compiled once per dialect and then executed with plain tuples or dicts,
inside the caller's SQLAlchemy transaction. Values must already be in database form
(JSON columns as `json.dumps` text, which both SQLite and PostgreSQL accept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement


class RawStatement:
    """One Core statement, compiled per dialect on first use."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, list[str] | None, dict[str, Any]]] = {}

    def _sql(self, conn: Connection) -> tuple[str, list[str] | None, dict[str, Any]]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            positional = dialect.paramstyle in ("qmark", "format", "numeric")
            order = list(getattr(compiled, "positiontup", None) or []) if positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = (compiled.string, order, defaults)
            self._compiled[dialect.name] = found
        return found

    @staticmethod
    def _args(order: list[str] | None, defaults: dict[str, Any], params: Mapping[str, Any]) -> Any:
        if order is not None:
            return tuple(params[n] if n in params else defaults[n] for n in order)
        return {**defaults, **params}

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> None:
        sql, order, defaults = self._sql(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, self._args(order, defaults, params or {}))
        finally:
            cursor.close()

    def fetchone(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row of a SELECT, as a tuple (or None)."""
        sql, order, defaults = self._sql(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, self._args(order, defaults, params or {}))
            return cursor.fetchone()
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        sql, order, defaults = self._sql(conn)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(sql, [self._args(order, defaults, row) for row in rows])
        finally:
            cursor.close()
