"""Point-in-time correct training sets: one DuckDB query of ASOF LEFT JOINs over the views'
Parquet files.

For each entity row and view the join takes the newest source row with the same keys and an
event time at or before the row's own (never a later one: no leakage), drops it when older
than the view's TTL, and keeps every entity row (left-join semantics; what is missing is null
and counted). DuckDB streams the files and spills to disk past its memory limit, so sources
larger than memory are fine; `output=` writes the result to Parquet without holding it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.errors import ValidationError
from loopml.features.selection import Selection
from loopml.features.sources import (
    SourceFiles,
    check_view_columns,
    keys_unique,
    source_columns,
    sql_string,
    view_relation,
)
from loopml.features.transforms import apply_transform, as_array
from loopml.store import Stores

EntityInput: TypeAlias = pd.DataFrame | pa.Table | str | Path
_ROW = "__loopml_row"
_TS_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")


@dataclass
class HistoricalFeatures:
    """A training set: the entity rows in their order, each with its point-in-time features."""

    selection: Selection
    sources: list[SourceFiles]
    rows: int
    missing: dict[str, int]  # feature -> null values
    unmatched: dict[str, int]  # view -> entity rows with no value at or before them (in TTL)
    table: pa.Table | None = None
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_arrow(self) -> pa.Table:
        if self.table is not None:
            return self.table
        assert self.path is not None
        return pq.read_table(self.path)

    def to_pandas(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame


def open_duckdb(
    memory_limit: str, threads: int | None, temp_dir: Path | None
) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(config={"memory_limit": memory_limit})
    if threads is not None:
        conn.execute(f"SET threads = {int(threads)}")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        conn.execute(f"SET temp_directory = {sql_string(str(temp_dir))}")
    conn.execute("SET preserve_insertion_order = false")
    return conn


def _entity_relation(
    conn: duckdb.DuckDBPyConnection, entities: EntityInput
) -> tuple[str, dict[str, str], int | None]:
    """Register the entity rows with a row number; (relation SQL, column types, rows)."""
    if isinstance(entities, str | Path):
        path = Path(entities)
        if not path.is_file():
            raise ValidationError(f"entity rows: no Parquet file at {path}")
        relation = (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number AS {_ROW} "
            f"FROM read_parquet({sql_string(str(path))}, file_row_number = true))"
        )
        rows = None
    else:
        if isinstance(entities, pd.DataFrame):
            if not all(isinstance(c, str) for c in entities.columns):
                raise ValidationError("entity DataFrame column names must all be strings")
            try:
                table = pa.Table.from_pandas(entities, preserve_index=False)
            except (pa.ArrowException, ValueError) as exc:
                raise ValidationError(f"cannot read the entity DataFrame: {exc}") from exc
        elif isinstance(entities, pa.Table):
            table = entities
        else:
            raise ValidationError(
                f"entity rows must be a pandas DataFrame, a pyarrow Table or a Parquet path, "
                f"got {type(entities).__name__}"
            )
        rows = table.num_rows
        table = table.append_column(_ROW, pa.array(np.arange(rows, dtype=np.int64)))
        conn.register("__loopml_entities", table)
        relation = "__loopml_entities"
    types = {
        str(r[0]): str(r[1]) for r in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    }
    return relation, types, rows


def historical_query(
    stores: Stores,
    conn: duckdb.DuckDBPyConnection,
    selection: Selection,
    sources: list[SourceFiles],
    relation: str,
    entity_types: dict[str, str],
    timestamp_column: str,
) -> str:
    """The ASOF join as one SQL statement (exposed for `features plan --sql` style debugging)."""
    if timestamp_column not in entity_types:
        raise ValidationError(
            f"the entity rows have no timestamp column {timestamp_column!r}; they have "
            f"{sorted(c for c in entity_types if c != _ROW)} (pass timestamp_column=...)"
        )
    missing = [k for k in selection.keys + selection.request_fields if k not in entity_types]
    if missing:
        raise ValidationError(
            f"the entity rows lack {missing}: they need the join keys of every view asked for "
            "and the request fields of on-demand views"
        )
    clash = [c for c in selection.columns if c in entity_types]
    if clash:
        raise ValidationError(f"the entity rows already have columns named like features {clash}")
    entity_ts_type = entity_types[timestamp_column]
    prepared = [f"e.{timestamp_column}"]
    joins, outputs = [], []
    for index, (chosen, source) in enumerate(zip(selection.views, sources, strict=True)):
        view = chosen.view
        columns = source_columns(conn, source)
        check_view_columns(view, list(chosen.keys), columns)
        ts_type = columns[view.timestamp_column]
        cast_source = ts_type not in _TS_TYPES
        target_type = "TIMESTAMP" if cast_source else ts_type
        alias = f"v{index}"
        entity_ts = f"e.{timestamp_column}"
        if entity_ts_type != target_type:
            entity_ts = f"e.__ts{index}"
            prepared.append(f"CAST(e.{timestamp_column} AS {target_type}) AS __ts{index}")
        tie_break = not keys_unique(stores, conn, source, view, list(chosen.keys))
        body = view_relation(source, view, list(chosen.keys), tie_break)
        if cast_source:
            body = f"SELECT * REPLACE (CAST(__ts AS TIMESTAMP) AS __ts) FROM ({body})"
        keys = " AND ".join(f"e.{k} = {alias}.{k}" for k in chosen.keys)
        if tie_break:
            bound = f"{{'t': {entity_ts}, 'f': 2147483647, 'n': 9223372036854775807}}"
            inequality = f"{bound} >= {alias}.__order"
        else:
            inequality = f"{entity_ts} >= {alias}.__ts"
        joins.append(f"ASOF LEFT JOIN ({body}) AS {alias} ON {keys} AND {inequality}")
        ttl = view.ttl_s
        fresh = (
            f"epoch_us({entity_ts}) - epoch_us({alias}.__ts) <= {round(ttl * 1e6)}"
            if ttl is not None
            else None
        )
        for name in chosen.features:
            outputs.append(
                f"CASE WHEN {fresh} THEN {alias}.{name} END AS {name}"
                if fresh
                else f"{alias}.{name}"
            )
        outputs.append(
            f"CASE WHEN {fresh} THEN {alias}.__ts END AS __matched{index}"
            if fresh
            else f"{alias}.__ts AS __matched{index}"
        )
    entity_columns = ", ".join(f"e.{c}" for c in entity_types if c != _ROW)
    extra = ", ".join(prepared[1:])
    base = f"(SELECT *{', ' + extra if extra else ''} FROM {relation} AS e)" if extra else relation
    return (
        f"SELECT {entity_columns}, {', '.join(outputs)} FROM {base} AS e "
        + " ".join(joins)
        + f" ORDER BY e.{_ROW}"
    )


def get_historical_features(
    stores: Stores,
    selection: Selection,
    sources: list[SourceFiles],
    entities: EntityInput,
    *,
    timestamp_column: str = "event_timestamp",
    output: str | Path | None = None,
    memory_limit: str = "1GB",
    threads: int | None = None,
) -> HistoricalFeatures:
    """Join `entities` with the selected features, point-in-time correct (see module doc)."""
    temp_dir = stores.settings.local_path(stores.settings.cache_dir) / "duckdb-spill"
    conn = open_duckdb(memory_limit, threads, temp_dir)
    try:
        relation, entity_types, _ = _entity_relation(conn, entities)
        sql = historical_query(
            stores, conn, selection, sources, relation, entity_types, timestamp_column
        )
        matched = [f"__matched{i}" for i in range(len(selection.views))]
        try:
            if output is None:
                table = conn.sql(sql).to_arrow_table()
            else:
                target = Path(output)
                target.parent.mkdir(parents=True, exist_ok=True)
                conn.execute(
                    f"COPY ({sql}) TO {sql_string(str(target))} (FORMAT parquet, COMPRESSION zstd)"
                )
                table = None
        except duckdb.Error as exc:
            raise ValidationError(f"the point-in-time join failed: {exc}") from exc
    finally:
        conn.close()
    if table is not None:
        unmatched = {
            v.view.name: table.column(m).null_count
            for v, m in zip(selection.views, matched, strict=True)
        }
        table = table.drop_columns(matched)
        table = _with_on_demand(selection, table)
        missing = {c: table.column(c).null_count for c in selection.columns}
        return HistoricalFeatures(
            selection, sources, table.num_rows, missing, unmatched, table=table
        )
    return _finish_file(selection, sources, Path(output), matched)  # type: ignore[arg-type]


def _finish_file(
    selection: Selection, sources: list[SourceFiles], path: Path, matched: list[str]
) -> HistoricalFeatures:
    """Counts from the written file's column statistics; on-demand columns computed per row
    group so the file is never held whole."""
    metadata = pq.ParquetFile(path).metadata
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    nulls = dict.fromkeys(names, 0)
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for i, name in enumerate(names):
            stats = row_group.column(i).statistics
            nulls[name] += stats.null_count if stats is not None and stats.has_null_count else 0
    unmatched = {v.view.name: nulls[m] for v, m in zip(selection.views, matched, strict=True)}
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".parquet", delete=False) as tmp:
        rewritten = Path(tmp.name)
    reader = pq.ParquetFile(path)
    writer: pq.ParquetWriter | None = None
    missing = dict.fromkeys(selection.columns, 0)
    rows = 0
    try:
        for batch in reader.iter_batches(batch_size=65536):
            table = _with_on_demand(selection, pa.Table.from_batches([batch]).drop_columns(matched))
            for column in selection.columns:
                missing[column] += table.column(column).null_count
            rows += table.num_rows
            if writer is None:
                writer = pq.ParquetWriter(rewritten, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    rewritten.replace(path)
    return HistoricalFeatures(selection, sources, rows, missing, unmatched, path=path)


def _with_on_demand(selection: Selection, table: pa.Table) -> pa.Table:
    """Append on-demand features computed by the same function the online path calls."""
    for chosen in selection.on_demand:
        columns = {
            name: as_array(table.column(name).to_numpy(zero_copy_only=False))
            for name in table.column_names
        }
        values = apply_transform(chosen.view, columns, table.num_rows)
        for name in chosen.features:
            table = table.append_column(name, pa.array(values[name], from_pandas=True))
    return table
