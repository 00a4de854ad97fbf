"""A metric's history: every point, or an evenly spread sample of it for a chart.

A run may log a metric a million times. Every point comes from the series' columnar
snapshot when its run has ended (snapshots.py), otherwise from the rows, fetched in chunks
straight into arrays; either way the result is a `MetricHistory` (series.py), not a
million objects. A chart needs a few hundred points, and those come from index seeks on
(run_id, key, step) — one per point, each a few microseconds — so a sample costs the same
whether the history holds a thousand points or a million.
"""

from __future__ import annotations

from sqlalchemy import Connection

from loopml.errors import ValidationError
from loopml.store import Stores
from loopml.tracking.records import MetricPoint
from loopml.tracking.series import MetricHistory
from loopml.tracking.snapshots import read_columns, read_snapshot

_BOUNDS = 'SELECT min(step), max(step) FROM metrics WHERE run_id = {m} AND "key" = {m}'
_FIRST_FROM = (
    'SELECT step, value, "timestamp" FROM metrics WHERE run_id = {m} AND "key" = {m} '
    "AND step >= {m} ORDER BY step LIMIT 1"
)
MAX_POINTS_LIMIT = 100_000


def read_history(
    conn: Connection, stores: Stores, run_id: str, key: str, max_points: int | None = None
) -> MetricHistory:
    """The points of `key`, by step; at most `max_points`, spread evenly over the steps
    (the first and last step included), when it is given."""
    if max_points is not None and (
        isinstance(max_points, bool)
        or not isinstance(max_points, int)
        or not 2 <= max_points <= MAX_POINTS_LIMIT
    ):
        raise ValidationError(f"max_points must be an integer from 2 to {MAX_POINTS_LIMIT}")
    if max_points is None:
        found = read_snapshot(conn, stores, run_id, key)
        return found if found is not None else read_columns(conn, run_id, key)
    m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_BOUNDS.format(m=m), (run_id, key))
        bounds = cursor.fetchone()
        if bounds is None or bounds[0] is None:
            return MetricHistory.empty()
        low, high = int(bounds[0]), int(bounds[1])
        points: list[MetricPoint] = []
        sql = _FIRST_FROM.format(m=m)
        span = high - low
        for i in range(max_points):
            wanted = low + (span * i) // (max_points - 1)
            if points and wanted <= points[-1].step:
                continue  # sparse steps: the seek already passed this one
            cursor.execute(sql, (run_id, key, wanted))
            row = cursor.fetchone()
            if row is None:
                break
            points.append(MetricPoint(int(row[0]), float(row[1]), float(row[2])))
        return MetricHistory.of_points(points)
    finally:
        cursor.close()
