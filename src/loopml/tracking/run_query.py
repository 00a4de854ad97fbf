"""Reading runs: one SELECT per search page, compiled once per shape, run on the DBAPI cursor.

A page is a single statement over `runs` that returns every field of a `RunRecord`, the
params, latest metrics and tags included (as the document `runs.key_values`, see
key_values.py), plus one small statement for the dataset inputs of the page's runs.
SQLAlchemy builds and compiles the statement once per (filter, order_by, number of
experiments): building and compiling it would cost more than SQLite spends running it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, Integer, Select, bindparam, select
from sqlalchemy.sql import ClauseElement

from loopml.store.schema import (
    experiments,
    latest_metrics,
    params,
    runs,
    tags,
)
from loopml.tracking.key_values import KeyValues, decode
from loopml.tracking.records import RunRecord
from loopml.tracking.search import compile_filter, parse_order_by

# The fields of a RunRecord, in the order `records` reads them.
_COLUMNS = (
    runs.c.id,
    experiments.c.name,
    runs.c.name,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.parent_id,
    runs.c.git_commit,
    runs.c.git_dirty,
    runs.c.git_diff_digest,
    runs.c.environment,
    runs.c.error,
    runs.c.created_by,
    runs.c.key_values,
)
_CACHE_SIZE = 256
_IDS_PER_STATEMENT = 10_000  # well below SQLite's limit of bound values
_INPUTS = (
    "SELECT run_inputs.run_id, run_inputs.role, dataset_versions.name, dataset_versions.version, "
    "dataset_versions.id FROM run_inputs "
    "JOIN dataset_versions ON dataset_versions.id = run_inputs.dataset_version_id "
    "WHERE run_inputs.run_id IN ({marks})"
)


class Prebuilt:
    """A SELECT compiled per dialect on first use; its bound values are defaults that
    `fetchall` overrides by name (values must already be in database form)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, list[str] | None, dict[str, Any]]] = {}

    def fetchall(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
            positional = dialect.paramstyle in ("qmark", "format", "numeric")
            order = list(getattr(compiled, "positiontup", None) or []) if positional else None
            found = (compiled.string, order, dict(compiled.params))
            self._compiled[dialect.name] = found
        sql, order, defaults = found
        args: Any = {**defaults, **values}
        if order is not None:
            args = tuple(args[name] for name in order)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _base() -> Select[Any]:
    return select(*_COLUMNS).select_from(
        runs.join(experiments, experiments.c.id == runs.c.experiment_id)
    )


RUN_BY_ID = Prebuilt(_base().where(runs.c.id == bindparam("run_id", "")))
_PAGES: dict[tuple[str | None, tuple[str, ...], int | None], Prebuilt] = {}


def page_query(filter: str | None, order_by: Sequence[str], experiments_: int | None) -> Prebuilt:
    """The statement for one page: bind `limit`, `offset` and `experiment_0`, `experiment_1`,
    … (the ids of the `experiments_` experiments to search; None searches all of them).
    Raises ValidationError for a malformed filter or order_by."""
    if filter is not None and not filter.strip():
        filter = None
    key = (filter, tuple(order_by), experiments_)
    found = _PAGES.get(key)
    if found is None:
        found = Prebuilt(_page(filter, order_by, experiments_))
        if len(_PAGES) >= _CACHE_SIZE:
            _PAGES.clear()  # many distinct filters: start over (simple and thread-safe)
        _PAGES[key] = found
    return found


def _page(filter: str | None, order_by: Sequence[str], experiments_: int | None) -> Select[Any]:
    query = _base()
    if experiments_ is not None:
        ids: list[BindParameter[str]] = [
            bindparam(f"experiment_{i}", "") for i in range(experiments_)
        ]
        query = query.where(runs.c.experiment_id.in_(ids))
    condition = compile_filter(filter)
    if condition is not None:
        query = query.where(condition)
    for index, item in enumerate(order_by):
        kind, key, descending = parse_order_by(item)
        if kind in ("metric", "param", "tag"):
            table = {"metric": latest_metrics, "param": params, "tag": tags}[kind]
            alias = table.alias(f"o{kind}{index}")
            query = query.outerjoin(alias, (alias.c.run_id == runs.c.id) & (alias.c.key == key))
            column: Any = alias.c.value
        else:
            column = runs.c.id if key == "run_id" else runs.c[key]
        query = query.order_by(
            column.desc().nulls_last() if descending else column.asc().nulls_last()
        )
    return (
        query.order_by(runs.c.start_time.desc(), runs.c.id)
        .limit(bindparam("limit", 0, type_=Integer))
        .offset(bindparam("offset", 0, type_=Integer))
    )


def records(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[RunRecord]:
    """RunRecords for rows of the statements above: documents decoded, the tables read for
    the runs without one (live runs), dataset inputs added; the environment left as stored."""
    inputs: dict[str, list[dict[str, str]]] = {}
    for run_id, role, name, version, dataset_id in _rows_of(conn, _INPUTS, [r[0] for r in rows]):
        inputs.setdefault(run_id, []).append(
            {"dataset": f"dataset:{name}@{version}", "id": dataset_id, "role": role}
        )
    unbuilt = _from_tables(conn, [row[0] for row in rows if row[13] is None])
    return [
        _record(
            row,
            unbuilt[row[0]] if row[13] is None else decode(row[13]),
            inputs.get(row[0], []),
        )
        for row in rows
    ]


def _record(row: Sequence[Any], key_values: KeyValues, inputs: list[dict[str, str]]) -> RunRecord:
    params_, metrics_, tags_ = key_values
    return RunRecord(
        id=row[0],
        experiment=row[1],
        name=row[2],
        status=row[3],
        start_time=row[4],
        end_time=row[5],
        parent_id=row[6],
        git_commit=row[7],
        git_dirty=None if row[8] is None else bool(row[8]),
        git_diff_digest=row[9],
        environment_json=row[10],
        error=row[11],
        created_by=row[12],
        params=params_,
        metrics=metrics_,
        tags=tags_,
        inputs=inputs,
    )


def _from_tables(conn: Connection, ids: list[str]) -> dict[str, KeyValues]:
    found: dict[str, KeyValues] = {run_id: ({}, {}, {}) for run_id in ids}
    for index, table in enumerate(("params", "latest_metrics", "tags")):
        sql = f'SELECT run_id, "key", value FROM {table} WHERE run_id IN ({{marks}}) ORDER BY 1, 2'
        for run_id, key, value in _rows_of(conn, sql, ids):
            found[run_id][index][key] = value
    return found


def _rows_of(conn: Connection, sql: str, ids: list[str]) -> list[tuple[Any, ...]]:
    """The rows of `sql` for `ids`, bound in chunks where `{marks}` stands."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows: list[tuple[Any, ...]] = []
    cursor = conn.connection.cursor()
    try:
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            chunk = ids[start : start + _IDS_PER_STATEMENT]
            cursor.execute(sql.format(marks=", ".join([mark] * len(chunk))), tuple(chunk))
            rows.extend(cursor.fetchall())
    finally:
        cursor.close()
    return rows
