"""Where a feature view's rows come from: a dataset version's files or Parquet files,
read by DuckDB as one relation with the view's keys, event time and features."""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlalchemy import select

from loopml.artifacts import hash_bytes
from loopml.data import DatasetService, DatasetVersion
from loopml.errors import NotFoundError, ValidationError
from loopml.features.definitions import FeatureView
from loopml.store import Stores, dialect_insert
from loopml.store.schema import feature_source_facts

DATASET_PREFIX = "dataset:"


@dataclass(frozen=True)
class SourceFiles:
    """The files one view reads now, and a key that changes whenever their content may."""

    uri: str  # dataset:bikes@3, or the path pattern
    files: tuple[str, ...]
    format: str  # parquet | csv
    key: str  # dataset content hash, or a hash of (path, size, mtime) of every file
    dataset: DatasetVersion | None = None


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def resolve_source(stores: Stores, view: FeatureView) -> SourceFiles:
    """The files behind `view.source`; a clear error when there are none."""
    source = view.source
    if source.startswith(DATASET_PREFIX):
        datasets = DatasetService(stores)
        return dataset_source(datasets, datasets.get(source[len(DATASET_PREFIX) :]))
    path = Path(source).expanduser()
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*.parquet"))
    elif any(ch in source for ch in "*?["):
        found = sorted(glob.glob(str(path), recursive=True))
    else:
        found = [str(path)] if path.is_file() else []
    if not found:
        raise NotFoundError(
            f"feature view {view.name!r}: its source {source!r} holds no Parquet file; log a "
            "dataset and use 'dataset:NAME', or point at an existing file, folder or glob"
        )
    stamp = "\n".join(f"{p}\t{Path(p).stat().st_size}\t{Path(p).stat().st_mtime_ns}" for p in found)
    return SourceFiles(source, tuple(found), "parquet", hash_bytes(stamp.encode()))


def dataset_source(datasets: DatasetService, version: DatasetVersion) -> SourceFiles:
    """One dataset version as a view's source (e.g. a monitor's reference)."""
    paths = tuple(str(p) for p in datasets.local_files(version))
    return SourceFiles(version.uri, paths, version.format, version.content_hash, version)


def scan_sql(source: SourceFiles, tie_break: bool) -> str:
    """A relation over every file; with `tie_break`, `__file` and `__n` number the rows so that
    among rows with equal keys and time the last one stored wins."""
    parts = []
    for index, path in enumerate(source.files):
        if source.format == "parquet":
            scan = f"read_parquet({sql_string(path)}, file_row_number = {str(tie_break).lower()})"
        else:
            scan = f"read_csv({sql_string(path)})"
        if tie_break:
            number = "file_row_number" if source.format == "parquet" else "row_number() OVER ()"
            parts.append(f"SELECT *, {index} AS __file, {number} AS __n FROM {scan}")
        else:
            parts.append(f"SELECT * FROM {scan}")
    if len(parts) == 1 and not tie_break:
        return parts[0].removeprefix("SELECT * FROM ")
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def view_relation(source: SourceFiles, view: FeatureView, keys: list[str], tie_break: bool) -> str:
    """SELECT keys, event time as __ts, features (expressions applied) [, __order]."""
    columns = [f"{k}" for k in keys] + [f"{view.timestamp_column} AS __ts"]
    for feature in view.features:
        expression = feature.expression or feature.name
        columns.append(f"CAST({expression} AS {_SQL_TYPES[feature.dtype]}) AS {feature.name}")
    if tie_break:
        columns.append(f"{{'t': {view.timestamp_column}, 'f': __file, 'n': __n}} AS __order")
    return f"SELECT {', '.join(columns)} FROM {scan_sql(source, tie_break)}"


_SQL_TYPES = {
    "float64": "DOUBLE",
    "int64": "BIGINT",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}


def keys_unique(
    stores: Stores,
    conn: duckdb.DuckDBPyConnection,
    source: SourceFiles,
    view: FeatureView,
    keys: list[str],
) -> bool:
    """Whether no two rows share keys and event time — computed once per source content."""
    key_text = ",".join([*keys, view.timestamp_column])
    with stores.engine.connect() as db:
        known = db.execute(
            select(feature_source_facts.c.unique_keys).where(
                feature_source_facts.c.source_key == source.key,
                feature_source_facts.c["keys"] == key_text,
            )
        ).scalar()
    if known is not None:
        return bool(known)
    columns = ", ".join([*keys, view.timestamp_column])
    try:
        rows, distinct = conn.execute(
            f"SELECT count(*), count(DISTINCT ({columns})) FROM {scan_sql(source, False)}"
        ).fetchall()[0]
    except duckdb.Error as exc:
        raise ValidationError(
            f"feature view {view.name!r} cannot read its source {source.uri}: {exc}"
        ) from exc
    unique = bool(rows == distinct)
    with stores.engine.begin() as db:
        db.execute(
            dialect_insert(stores.engine)(feature_source_facts)
            .values(
                source_key=source.key,
                keys=key_text,
                unique_keys=unique,
                rows=int(rows),
                computed_at=time.time(),
            )
            .on_conflict_do_nothing(index_elements=["source_key", "keys"])
        )
    return unique


def source_columns(conn: duckdb.DuckDBPyConnection, source: SourceFiles) -> dict[str, str]:
    """Column name → DuckDB type of the source (from file metadata only)."""
    try:
        rows = conn.execute(f"DESCRIBE SELECT * FROM {scan_sql(source, False)}").fetchall()
    except duckdb.Error as exc:
        raise ValidationError(f"cannot read the source {source.uri}: {exc}") from exc
    return {str(r[0]): str(r[1]) for r in rows}


def check_view_columns(view: FeatureView, keys: list[str], columns: dict[str, str]) -> None:
    needed = [*keys, view.timestamp_column] + [
        f.name for f in view.features if f.expression is None
    ]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValidationError(
            f"feature view {view.name!r}: its source lacks columns {missing}; it has "
            f"{sorted(columns)} (give a feature an `expression` to derive it)"
        )
