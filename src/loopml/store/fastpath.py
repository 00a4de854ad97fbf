"""Prebuilt statements run straight on the DBAPI cursor of the current transaction.

Run tracking creates a handful of rows per run; building and executing each through
SQLAlchemy's expression layer costs several times what the database itself spends. A
`RawStatement` is compiled once per dialect and then executed with plain tuples or dicts,
inside the caller's SQLAlchemy transaction. Values must already be in database form
(JSON columns as `json.dumps` text, which both SQLite and PostgreSQL accept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement


class _Compiled:
    """A statement's SQL for one dialect, and how to turn a dict of values into its
    parameters (a tuple in `order` for positional paramstyles)."""

    __slots__ = ("defaults", "direct", "multi", "order", "pick", "sql")

    def __init__(
        self, sql: str, order: list[str] | None, defaults: dict[str, Any], direct: bool = False
    ) -> None:
        self.sql = sql
        # sqlite3's connection executes on a cursor it makes itself, skipping the pool's
        # cursor wrapper (the statement is reset when it finishes or its cursor is freed)
        self.direct = direct
        self.order = order
        self.defaults = defaults
        self.multi: dict[int, str | None] = {}  # multi-row forms by row count
        self.pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
        if order:
            getter = itemgetter(*order)
            # itemgetter of one name returns the value itself, not a 1-tuple
            self.pick = getter if len(order) > 1 else (lambda row: (getter(row),))


class RawStatement:
    """One Core statement, compiled per dialect on first use."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _sql(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            positional = dialect.paramstyle in ("qmark", "format", "numeric")
            order = list(getattr(compiled, "positiontup", None) or []) if positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = _Compiled(compiled.string, order, defaults, dialect.name == "sqlite")
            self._compiled[dialect.name] = found
        return found

    @staticmethod
    def _args(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        order, defaults = compiled.order, compiled.defaults
        if order is None:
            return {**defaults, **params} if defaults else params
        if compiled.pick is not None:  # values given win over the statement's own
            return compiled.pick({**defaults, **params} if defaults else params)
        return tuple(params[n] if n in params else defaults[n] for n in order)

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> None:
        compiled = self._sql(conn)
        args = self._args(compiled, params or {})
        dbapi_connection = conn.connection.dbapi_connection
        if compiled.direct:  # sqlite3: the connection runs it on a cursor of its own
            dbapi_connection.execute(compiled.sql, args)  # type: ignore[union-attr]
            return
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
        finally:
            cursor.close()

    def fetchone(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row of a SELECT, as a tuple (or None)."""
        compiled = self._sql(conn)
        args = self._args(compiled, params or {})
        dbapi_connection = conn.connection.dbapi_connection
        if compiled.direct:
            return dbapi_connection.execute(compiled.sql, args).fetchone()  # type: ignore[union-attr]
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._sql(conn)
        if compiled.order is None and 1 < len(rows) <= MULTI_ROW_MAX:
            many = self._multi_row(compiled, len(rows))
            if many is not None:
                self._execute_multi_row(conn, compiled, many, rows)
                return
        args = [self._args(compiled, row) for row in rows]
        dbapi_connection = conn.connection.dbapi_connection
        if compiled.direct:
            dbapi_connection.executemany(compiled.sql, args)  # type: ignore[union-attr]
            return
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, args)
        finally:
            cursor.close()

    def _multi_row(self, compiled: _Compiled, count: int) -> str | None:
        """The INSERT of `compiled` with `count` rows in its VALUES (named parameters
        `name__i` for row i), or None when the statement has no single VALUES row."""
        if count in compiled.multi:
            return compiled.multi[count]
        many = None
        found = _values_span(compiled.sql)
        if found is not None:
            start, end = found
            row = compiled.sql[start:end]
            rows = [_NAMED.sub(rf"%(\1__{i})s", row) for i in range(count)]
            many = compiled.sql[:start] + ", ".join(rows) + compiled.sql[end:]
        compiled.multi[count] = many
        return many

    def _execute_multi_row(
        self, conn: Connection, compiled: _Compiled, sql: str, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        args: dict[str, Any] = {}
        for i, row in enumerate(rows):
            for name, value in self._args(compiled, row).items():
                args[f"{name}__{i}"] = value
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
        finally:
            cursor.close()


# Up to this many rows go as one INSERT with several VALUES rows on drivers with named
# parameters (psycopg): one round trip, where executemany's pipeline costs a sync and
# several (a run's handful of params or metrics; bigger batches keep executemany).
MULTI_ROW_MAX = 64
_NAMED = re.compile(r"%\((\w+)\)s")


def _values_span(sql: str) -> tuple[int, int] | None:
    """Where the one parenthesised row after ` VALUES ` starts and ends in `sql`."""
    at = sql.find(" VALUES (")
    if at < 0 or sql.find(" VALUES (", at + 1) >= 0:
        return None
    start = at + len(" VALUES ")
    depth = 0
    for index in range(start, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            depth -= 1
            if depth == 0:
                return start, index + 1
    return None
