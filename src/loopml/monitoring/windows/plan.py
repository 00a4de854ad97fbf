"""Which windows of a deployment's prediction log are complete and not yet processed.

Windows are half-open time ranges `[start, end)` that follow each other without gaps, so a
cursor (the end of the last processed window) is all a monitor needs to resume. A count
window ends after the request holding its N-th row: a request's rows share one timestamp
and are never split across windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from loopml.monitoring.definition import Window

# The `predictions` view holds answered requests only (failures are in `prediction_log`);
# shadow copies never reached a client.
SERVED = "NOT shadow"


@dataclass(frozen=True)
class Span:
    """One window of the log; `empty` spans cover a stretch without any predictions."""

    start: float
    end: float
    rows: int

    @property
    def empty(self) -> bool:
        return self.rows == 0


def plan_windows(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    cursor: float | None,
    now: float,
    *,
    partial: bool = False,
    limit: int = 1000,
) -> list[Span]:
    """The complete windows after `cursor` (and the unfinished one when `partial`)."""
    after = -math.inf if cursor is None else cursor
    if window.rows is not None:
        return _count_windows(conn, window.rows, after, now, partial, limit)
    return _time_windows(conn, window.seconds or 0.0, after, now, partial, limit)


def _count_windows(
    conn: duckdb.DuckDBPyConnection,
    size: int,
    after: float,
    now: float,
    partial: bool,
    limit: int,
) -> list[Span]:
    spans: list[Span] = []
    start = after
    while len(spans) < limit:
        row = conn.execute(
            f"SELECT time FROM predictions WHERE {SERVED} AND time >= ? AND time < ? "
            "ORDER BY time LIMIT 1 OFFSET ?",
            [start, now, size - 1],
        ).fetchone()
        if row is None:
            break
        end = math.nextafter(float(row[0]), math.inf)  # the whole last request is inside
        rows = _count(conn, start, end)
        spans.append(Span(_finite(conn, start), end, rows))
        start = end
    if partial and len(spans) < limit:
        rows = _count(conn, start, now)
        spans.append(Span(_finite(conn, start, fallback=now), now, rows))
    return spans


def _time_windows(
    conn: duckdb.DuckDBPyConnection,
    seconds: float,
    after: float,
    now: float,
    partial: bool,
    limit: int,
) -> list[Span]:
    spans: list[Span] = []
    if math.isinf(after):
        first = conn.execute(f"SELECT min(time) FROM predictions WHERE {SERVED}").fetchone()
        if first is None or first[0] is None:
            return []
        start = math.floor(float(first[0]) / seconds) * seconds
    else:
        start = after
    while len(spans) < limit:
        end = math.floor(start / seconds) * seconds + seconds
        if end > now:
            break
        rows = _count(conn, start, end)
        if rows == 0:
            # Collapse a stretch without traffic into one empty window up to the next data.
            nxt = conn.execute(
                f"SELECT min(time) FROM predictions WHERE {SERVED} AND time >= ?", [end]
            ).fetchone()
            upto = now if nxt is None or nxt[0] is None else float(nxt[0])
            end = max(end, min(math.floor(upto / seconds) * seconds, _floor(now, seconds)))
        spans.append(Span(start, end, rows))
        start = end
    if partial and len(spans) < limit and start < now:
        spans.append(Span(start, now, _count(conn, start, now)))
    return spans


def _floor(value: float, step: float) -> float:
    return math.floor(value / step) * step


def _count(conn: duckdb.DuckDBPyConnection, start: float, end: float) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM predictions WHERE {SERVED} AND time >= ? AND time < ?",
        [start, end],
    ).fetchone()
    return int(row[0]) if row else 0


def _finite(conn: duckdb.DuckDBPyConnection, start: float, fallback: float | None = None) -> float:
    """A printable window start: the first row's time when the window is open-ended."""
    if not math.isinf(start):
        return start
    row = conn.execute(f"SELECT min(time) FROM predictions WHERE {SERVED}").fetchone()
    if row is None or row[0] is None:
        return fallback if fallback is not None else 0.0
    return float(row[0])


def span_label(span: Span) -> str:
    """`2026-11-27 10:00:00→11:00:00 UTC`: readable bounds of a window."""
    start = datetime.fromtimestamp(span.start, UTC)
    end = datetime.fromtimestamp(span.end, UTC)
    tail = f"{end:%H:%M:%S}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M:%S}"
    return f"{start:%Y-%m-%d %H:%M:%S}→{tail} UTC"
