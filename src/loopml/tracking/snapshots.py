"""Columnar snapshots of long metric series, and the columnar read of the rows.

A run that logged a metric a million times keeps a million rows; handing them out of the
database costs a second or more whatever the driver. When such a run ends, each series of
at least `metric_snapshot_points` points is also written as one Parquet blob (step, value,
timestamp) in the artifact store, and `metric_history` reads that instead: a few
milliseconds. Points are append-only, so a snapshot is current exactly while its point count
equals the rows' count; a write to the run after it ended makes the count differ, and the
rows are read again (a later end, or `TrackingService.snapshot_metrics`, writes a fresh one).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from loopml.store import Stores, dialect_insert, record_artifact
from loopml.store.schema import metric_snapshots
from loopml.tracking.series import MetricHistory

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.apache.parquet"
FETCH_ROWS = 65_536  # rows per fetch: memory stays a few MB above the arrays themselves
_ROW = np.dtype([("step", np.int64), ("value", np.float64), ("timestamp", np.float64)])
_SERIES = (
    'SELECT step, value, "timestamp" FROM metrics WHERE run_id = {m} AND "key" = {m} '
    "ORDER BY step, id"
)
_COUNT = 'SELECT count(*) FROM metrics WHERE run_id = {m} AND "key" = {m}'


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def read_columns(conn: Connection, run_id: str, key: str) -> MetricHistory:
    """Every point of a series from its rows, fetched in chunks straight into arrays."""
    parts = []
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_SERIES.format(m=_mark(conn)), (run_id, key))
        while rows := cursor.fetchmany(FETCH_ROWS):
            parts.append(np.array(rows, dtype=_ROW))
    finally:
        cursor.close()
    if not parts:
        return MetricHistory.empty()
    found = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return MetricHistory(found["step"], found["value"], found["timestamp"])


def count_points(conn: Connection, run_id: str, key: str) -> int:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_COUNT.format(m=_mark(conn)), (run_id, key))
        row = cursor.fetchone()
        return 0 if row is None else int(row[0])
    finally:
        cursor.close()


def read_snapshot(conn: Connection, stores: Stores, run_id: str, key: str) -> MetricHistory | None:
    """The series from its snapshot, or None without a current one."""
    row = conn.execute(
        select(metric_snapshots.c.digest, metric_snapshots.c.points).where(
            metric_snapshots.c.run_id == run_id, metric_snapshots.c.key == key
        )
    ).first()
    if row is None or count_points(conn, run_id, key) != row.points:
        return None
    table = pq.read_table(stores.artifacts.local_path(row.digest))
    return MetricHistory(
        table.column("step").to_numpy(),
        table.column("value").to_numpy(),
        table.column("timestamp").to_numpy(),
    )


def write_snapshots(
    stores: Stores, run_id: str, counts: Mapping[str, int], min_points: int
) -> list[str]:
    """Snapshot every series of the run with at least `min_points` points (0: none);
    returns the keys snapshotted. A failure is logged, never raised: the rows stay the
    truth, and reading them is only slower."""
    done: list[str] = []
    if min_points <= 0:
        return done
    for key in sorted(k for k, n in counts.items() if n >= min_points):
        try:
            write_snapshot(stores, run_id, key)
            done.append(key)
        except Exception:
            log.warning("no snapshot of %s of run %s", key, run_id, exc_info=True)
    return done


def write_snapshot(stores: Stores, run_id: str, key: str) -> int:
    """Write (or replace) the snapshot of one series; returns its number of points."""
    with stores.engine.connect() as conn:
        history = read_columns(conn, run_id, key)
    table = pa.table(
        {"step": history.steps, "value": history.values, "timestamp": history.timestamps}
    )
    with tempfile.TemporaryDirectory(prefix="loopml-series-") as tmp:
        path = Path(tmp) / "series.parquet"
        pq.write_table(table, path, compression="zstd")
        ref = stores.artifacts.put_file(path)
    insert = dialect_insert(stores.engine)(metric_snapshots).values(
        run_id=run_id, key=key, digest=ref.digest, points=len(history), created_at=time.time()
    )
    upsert = insert.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={
            "digest": insert.excluded.digest,
            "points": insert.excluded.points,
            "created_at": insert.excluded.created_at,
        },
    )
    with stores.engine.begin() as conn:
        record_artifact(conn, stores.engine, ref, MEDIA_TYPE)
        conn.execute(upsert)
    return len(history)
