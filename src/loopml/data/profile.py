"""Schema, row count and per-column profile of tabular files, computed by DuckDB.

DuckDB streams Parquet and CSV files, so profiling a file larger than memory stays within
`MEMORY_LIMIT`. Quantiles are exact up to `EXACT_QUANTILE_ROWS` rows and approximate
(t-digest) above.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

MEMORY_LIMIT = "256MB"
EXACT_QUANTILE_ROWS = 1_000_000
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_CATEGORIES = 10

_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)
_TEMPORAL = ("DATE", "TIME", "TIMESTAMP")


def _kind(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION")):
        return "other"  # nested values (lists, arrays, structs) get no statistics
    if upper.startswith(_NUMERIC) or upper.startswith("DECIMAL"):
        return "numeric"
    if upper.startswith(_TEMPORAL):
        return "temporal"
    if upper in ("VARCHAR", "BOOLEAN", "ENUM") or upper.startswith("ENUM"):
        return "categorical"
    return "other"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source(paths: list[Path], fmt: str) -> str:
    files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
    if fmt == "parquet":
        return f"read_parquet({files})"
    return f"read_csv({files}, header = true, auto_detect = true)"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def connect() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    conn.execute("SET threads = 2")
    conn.execute("SET preserve_insertion_order = false")
    return conn


def describe(paths: list[Path], fmt: str) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """(schema, profile, row count) of the table formed by `paths`."""
    conn = connect()
    try:
        source = _source(paths, fmt)
        columns = conn.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        schema = [
            {"name": name, "type": duck_type, "nullable": nullable == "YES"}
            for name, duck_type, nullable, *_ in columns
        ]
        row_count = int(conn.execute(f"SELECT count(*) FROM {source}").fetchone()[0])  # type: ignore[index]
        profile = {col["name"]: _profile_column(conn, source, col, row_count) for col in schema}
        return schema, profile, row_count
    finally:
        conn.close()


def _profile_column(
    conn: duckdb.DuckDBPyConnection, source: str, column: dict[str, Any], row_count: int
) -> dict[str, Any]:
    """One scan of the column for its nulls and statistics (two for a categorical's top
    values): a large file is read as few times as possible."""
    name, kind = column["name"], _kind(column["type"])
    q = _quote(name)
    nulls_sql = f"count(*) - count({q})"
    if kind == "numeric":
        qfun = "quantile_cont" if row_count <= EXACT_QUANTILE_ROWS else "approx_quantile"
        qlist = "[" + ", ".join(str(x) for x in QUANTILES) + "]"
        row = conn.execute(
            f"SELECT {nulls_sql}, min({q}), max({q}), avg({q}::DOUBLE), "
            f"stddev_samp({q}::DOUBLE), {qfun}({q}::DOUBLE, {qlist}), "
            f"approx_count_distinct({q}) FROM {source}"
        ).fetchone()
        assert row is not None
        stats = _base(kind, int(row[0]), row_count)
        quantiles = row[5] or [None] * len(QUANTILES)
        stats.update(
            min=_clean(row[1]),
            max=_clean(row[2]),
            mean=_clean(row[3]),
            std=_clean(row[4]),
            quantiles={str(p): _clean(v) for p, v in zip(QUANTILES, quantiles, strict=True)},
            distinct=int(row[6] or 0),
            quantiles_exact=row_count <= EXACT_QUANTILE_ROWS,
        )
    elif kind == "temporal":
        row = conn.execute(f"SELECT {nulls_sql}, min({q}), max({q}) FROM {source}").fetchone()
        assert row is not None
        stats = _base(kind, int(row[0]), row_count)
        stats.update(min=_clean(row[1]), max=_clean(row[2]))
    elif kind == "categorical":
        row = conn.execute(
            f"SELECT {nulls_sql}, approx_count_distinct({q}) FROM {source}"
        ).fetchone()
        assert row is not None
        top = conn.execute(
            f"SELECT {q}::VARCHAR AS v, count(*) AS n FROM {source} WHERE {q} IS NOT NULL "
            f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP_CATEGORIES}"
        ).fetchall()
        stats = _base(kind, int(row[0]), row_count)
        stats.update(
            distinct=int(row[1] or 0),
            top=[{"value": v, "count": int(n)} for v, n in top],
        )
    else:
        row = conn.execute(f"SELECT {nulls_sql} FROM {source}").fetchone()
        assert row is not None
        stats = _base(kind, int(row[0]), row_count)
    return stats


def _base(kind: str, nulls: int, row_count: int) -> dict[str, Any]:
    return {"kind": kind, "nulls": nulls, "null_fraction": nulls / row_count if row_count else 0.0}
