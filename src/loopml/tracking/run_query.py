"""Reading runs: one SELECT per search page, compiled once per shape, run on the DBAPI cursor.

A page is a single statement over `runs` that returns every field of a `RunRecord`, the
params, latest metrics and tags included (as the document `runs.key_values`, see
key_values.py), plus one small statement for the dataset inputs of the page's runs.
SQLAlchemy builds and compiles the statement once per (filter, order_by, number of
experiments): building and compiling it would cost more than SQLite spends running it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
)
from sqlalchemy.sql import ClauseElement

from loopml.errors import ValidationError
from loopml.store.ids import resolve_prefix
from loopml.store.schema import (
    experiments,
    latest_metrics,
    params,
    runs,
    tags,
)
from loopml.tracking.key_values import KeyValues, decode
from loopml.tracking.records import RunRecord, normalize_run_id
from loopml.tracking.search import compile_filter, parse_order_by

# The fields of a RunRecord, in the order `records` reads them.
# The experiment's name comes from a lookup per row, not a join: a join lets the planner
# start from `experiments` and lose the index order of `runs` that pages rely on.
_EXPERIMENT_NAME = (
    select(experiments.c.name).where(experiments.c.id == runs.c.experiment_id).scalar_subquery()
)
_COLUMNS = (
    runs.c.id,
    _EXPERIMENT_NAME,
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
    runs.c.deleted_at,
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

    def __init__(self, statement: ClauseElement, fixed_join_order: bool = False) -> None:
        self.statement = statement
        self.fixed_join_order = fixed_join_order
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
            sql = compiled.string
            if self.fixed_join_order and dialect.name == "sqlite":
                # SQLite keeps the tables of a CROSS JOIN in the order written: its planner
                # would otherwise start from `runs` and sort every match
                sql = sql.replace(" JOIN runs ON ", " CROSS JOIN runs ON ", 1)
            found = (sql, order, dict(compiled.params))
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
    return select(*_COLUMNS).select_from(runs)


def resolve_run_id(conn: Connection, typed: str) -> str:
    """The full id of the run that `typed` names: `run:3f9c2a1b`, `run-3f9c…` or a unique
    start of the hex digits. Raises NotFoundError, or ValidationError when ambiguous."""
    return resolve_prefix(
        conn, runs, normalize_run_id(typed), "run", "`loopml runs list` shows the runs"
    )


#: Which runs a search returns (MLflow's run_view_type ACTIVE_ONLY, DELETED_ONLY, ALL).
VIEWS = ("active", "deleted", "all")
RUN_BY_ID = Prebuilt(_base().where(runs.c.id == bindparam("run_id", "")))
_PAGES: dict[tuple[Any, ...], Prebuilt] = {}
# A page token: which phase the page is in and the sort values of the last row it returned.
Position = tuple[int, list[Any]]


@dataclass(frozen=True)
class _Key:
    column: Any
    descending: bool
    nullable: bool


def page_query(
    filter: str | None,
    order_by: Sequence[str],
    experiments_: int | None,
    phase: int = 0,
    after: Sequence[Any] | None = None,
    view: str = "active",
) -> Prebuilt:
    """The statement for one page: bind `limit`, `after_0`, `after_1`, … (the sort values of
    the last row of the previous page, when `after` is given) and `experiment_0`, … (the ids
    of the `experiments_` experiments to search; None searches all of them).

    Pages are keyset pages: each continues after the last row of the one before, so a run
    inserted meanwhile neither shifts nor repeats rows, and no page reads the rows before
    it. When the first `order_by` key is a metric, param or tag, phase 0 walks the runs that
    have it (an inner join that the (key, value) index serves in order) and phase 1 the runs
    without it (those sort last). `view` is which runs: "active" (not deleted, the
    default), "deleted" or "all". Raises ValidationError for a malformed filter or order_by."""
    if filter is not None and not filter.strip():
        filter = None
    nulls = None if after is None else tuple(v is None for v in after)
    if view not in VIEWS:
        raise ValidationError(f"run view {view!r} is not one of {', '.join(VIEWS)}")
    key = (filter, tuple(order_by), experiments_, phase, nulls, view)
    found = _PAGES.get(key)
    if found is None:
        found = Prebuilt(
            _page(filter, order_by, experiments_, phase, nulls, view),
            fixed_join_order=phase == 0 and phases(order_by) == 2,
        )
        if len(_PAGES) >= _CACHE_SIZE:
            _PAGES.clear()  # many distinct filters: start over (simple and thread-safe)
        _PAGES[key] = found
    return found


def phases(order_by: Sequence[str]) -> int:
    """How many phases a search ordered by `order_by` walks (see `page_query`)."""
    return 2 if order_by and parse_order_by(order_by[0])[0] in ("metric", "param", "tag") else 1


def sort_values(row: Sequence[Any], order_by: Sequence[str], phase: int) -> list[Any]:
    """The sort values of a row of a `page_query` page, to continue after it."""
    count = len(order_by) + 2 - (1 if phase == 1 else 0)
    return list(row[len(_COLUMNS) : len(_COLUMNS) + count])


def _page(
    filter: str | None,
    order_by: Sequence[str],
    experiments_: int | None,
    phase: int,
    nulls: tuple[bool, ...] | None,
    view: str,
) -> Select[Any]:
    source: Any = runs
    run_id: Any = runs.c.id  # what the filter's lookups are correlated with
    where: list[ColumnElement[bool]] = []
    keys: list[_Key] = []
    ids: list[BindParameter[str]] = [
        bindparam(f"experiment_{i}", "") for i in range(experiments_ or 0)
    ]
    for index, item in enumerate(order_by):
        kind, key, descending = parse_order_by(item)
        if kind in ("metric", "param", "tag"):
            table = {"metric": latest_metrics, "param": params, "tag": tags}[kind]
            alias = table.alias(f"o{kind}{index}")
            on = (alias.c.run_id == runs.c.id) & (alias.c.key == key)
            if index == 0 and phase == 0:
                # walk the (key, value) index in order, look each run up by its id
                source = alias.join(runs, on)
                run_id = alias.c.run_id
                if kind == "metric" and len(ids) == 1:
                    # one experiment's entries of the (experiment, key, value) index only
                    where.append(alias.c.experiment_id == ids[0])
                keys.append(_Key(alias.c.value, descending, False))
            elif index == 0:
                where.append(~exists(select(alias.c.run_id).where(on)))
            else:
                source = source.outerjoin(alias, on)
                keys.append(_Key(alias.c.value, descending, True))
        else:
            column = runs.c.id if key == "run_id" else runs.c[key]
            keys.append(_Key(column, descending, key in ("end_time", "parent_id")))
    keys += [_Key(runs.c.start_time, True, False), _Key(runs.c.id, True, False)]
    query = select(*_COLUMNS).select_from(source)
    if experiments_ is not None:
        # one experiment (the usual search) as `=`, which the index serves in order
        query = query.where(
            runs.c.experiment_id == ids[0] if len(ids) == 1 else runs.c.experiment_id.in_(ids)
        )
    condition = compile_filter(filter, run_id)
    if condition is not None:
        query = query.where(condition)
    if view != "all":
        deleted = runs.c.deleted_at
        query = query.where(deleted.is_(None) if view == "active" else deleted.is_not(None))
    for clause in where:
        query = query.where(clause)
    if nulls is not None:
        query = query.where(_after(keys, nulls))
    for k in keys:
        ordered = k.column.desc() if k.descending else k.column.asc()
        query = query.order_by(ordered.nulls_last() if k.nullable else ordered)
    return query.add_columns(*(k.column for k in keys)).limit(bindparam("limit", 0, type_=Integer))


def _after(keys: Sequence[_Key], nulls: Sequence[bool]) -> ColumnElement[bool]:
    """Rows after the bound `after_i` values in the order of `keys` (NULLs sort last)."""
    if len(nulls) != len(keys):
        raise ValidationError("page_token does not fit this search; pass it back unchanged")
    later: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for index, (k, is_null) in enumerate(zip(keys, nulls, strict=True)):
        if is_null:  # nothing sorts after NULL within this key: only ties continue
            equal.append(k.column.is_(None))
            continue
        value: BindParameter[Any] = bindparam(f"after_{index}")
        beyond = k.column < value if k.descending else k.column > value
        if k.nullable:
            beyond = or_(beyond, k.column.is_(None))
        later.append(and_(*equal, beyond))
        equal.append(k.column == value)
    # The first key's bound alone, repeated outside the OR, lets an index range start there.
    first = keys[0]
    if not nulls[0] and not first.nullable:
        bound: BindParameter[Any] = bindparam("after_0")
        lead = first.column <= bound if first.descending else first.column >= bound
        return and_(lead, or_(*later))
    return or_(*later) if later else and_(false(), *equal)


def fetch_page(
    conn: Connection,
    filter: str | None,
    order_by: Sequence[str],
    experiment_ids: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
    view: str = "active",
) -> tuple[list[RunRecord], str | None]:
    """One page of runs and the token of the next page (None after the last)."""
    phase, after = decode_token(page_token)
    total = phases(order_by)
    if phase >= total:
        raise ValidationError("page_token does not fit this search; pass it back unchanged")
    values: dict[str, Any] = {f"experiment_{i}": e for i, e in enumerate(experiment_ids or [])}
    count = None if experiment_ids is None else len(experiment_ids)
    rows: list[tuple[Any, ...]] = []
    while True:
        query = page_query(filter, order_by, count, phase, after, view)
        bound = {f"after_{i}": v for i, v in enumerate(after or []) if v is not None}
        wanted = max_results + 1 - len(rows)
        found = query.fetchall(conn, {**values, **bound, "limit": wanted})
        rows += found
        if len(rows) > max_results:
            last = rows[max_results - 1]
            # the row past the page may belong to this phase or the next one
            here = len(rows) - len(found)
            last_phase = phase if max_results - 1 >= here else phase - 1
            token = encode_token(last_phase, sort_values(last, order_by, last_phase))
            return records(conn, rows[:max_results]), token
        if phase + 1 >= total:
            return records(conn, rows), None
        phase, after = phase + 1, None


def encode_token(phase: int, after: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": phase, "a": after}).encode()).decode()


def decode_token(token: str | None) -> tuple[int, list[Any] | None]:
    """(phase, sort values after which to continue) of a token from `fetch_page`."""
    if token is None:
        return 0, None
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode()))
        phase, after = found["p"], found["a"]
        if isinstance(phase, int) and phase >= 0 and isinstance(after, list):
            return phase, after
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationError("page_token is not one returned by search_runs; pass it back unchanged")


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
        deleted_at=row[14],
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
