"""Buffered metric logging: journal first, then bulk writes to the store.

`log` costs one small `write(2)`; points reach the database in bulk, when the buffer holds
`flush_points` points, every `flush_interval_s` seconds (one background thread per process
serves every open run), and when the run ends. Each bulk write also records the journal
offset it covers, in the same transaction, so a replay after a crash neither loses nor
repeats a point.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from operator import itemgetter

from sqlalchemy import Connection, Engine, bindparam, select, update

from loopml.store import dialect_insert
from loopml.store.fastpath import RawStatement
from loopml.store.schema import latest_metrics, runs
from loopml.tracking.journal import MetricJournal, Point, encode_point, encode_points
from loopml.tracking.key_values import keep_current as keep_key_values_current

# SQLite's driver binds plain tuples in this order (see _insert_points)
_INSERT_METRICS_QMARK = (
    'INSERT INTO metrics (run_id, "key", value, step, "timestamp") VALUES (?, ?, ?, ?, ?)'
)
# PostgreSQL: the batch as arrays, one row per index in order (the ids follow it, so points
# of one step keep the order they were logged in)
_INSERT_METRICS_ARRAYS = (
    'INSERT INTO metrics (run_id, "key", value, step, "timestamp") '
    "SELECT %s, p.k, p.v, p.s, p.t FROM unnest("
    "%s::varchar[], %s::float8[], %s::int8[], %s::float8[]) WITH ORDINALITY AS p (k, v, s, t, i) "
    "ORDER BY p.i"
)
_KEY, _VALUE, _STEP, _TIMESTAMP = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
_STEP_TIMESTAMP = itemgetter(2, 3)
_SET_OFFSET = RawStatement(
    update(runs).where(runs.c.id == bindparam("rid")).values(journal_offset=bindparam("offset"))
)
_LATEST_UPSERTS: dict[str, RawStatement] = {}


def _latest_upsert(engine: Engine) -> RawStatement:
    """One upsert per dialect, built once and run with executemany (a hot path)."""
    found = _LATEST_UPSERTS.get(engine.dialect.name)
    if found is None:
        # the run's experiment rides along (an index lookup of the run just written), so
        # the (experiment, key, value) index stays complete whoever writes the points
        experiment = select(runs.c.experiment_id).where(runs.c.id == bindparam("run_id"))
        base = (
            dialect_insert(engine)(latest_metrics)
            .values(
                {name: bindparam(name) for name in ("run_id", "key", "value", "step", "timestamp")}
            )
            .values(experiment_id=experiment.scalar_subquery())
        )
        excluded = base.excluded
        upsert = base.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={"value": excluded.value, "step": excluded.step, "timestamp": excluded.timestamp},
            where=(latest_metrics.c.step < excluded.step)
            | (
                (latest_metrics.c.step == excluded.step)
                & (latest_metrics.c.timestamp <= excluded.timestamp)
            ),
        )
        found = RawStatement(upsert)
        _LATEST_UPSERTS[engine.dialect.name] = found
    return found


def write_points(conn: Connection, engine: Engine, run_id: str, points: Sequence[Point]) -> None:
    """Insert points and keep `latest_metrics` at the newest (step, timestamp) per key."""
    if not points:
        return
    _insert_points(conn, run_id, points)
    _latest_upsert(engine).executemany(
        conn,
        [
            {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
            for k, v, s, t in newest_per_key(points)
        ],
    )


def _insert_points(conn: Connection, run_id: str, points: Sequence[Point]) -> None:
    """The rows of `points`, bound straight from the tuples: a 1,000-point batch would
    otherwise build a dict per row and take it apart again (a third of the write's CPU).
    On PostgreSQL a batch goes as four arrays in one statement, which the driver encodes
    in C, where executemany sends and parses a statement per row."""
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "sqlite":
            cursor.executemany(
                _INSERT_METRICS_QMARK, [(run_id, k, v, s, t) for k, v, s, t in points]
            )
        else:
            cursor.execute(
                _INSERT_METRICS_ARRAYS,
                (
                    run_id,
                    list(map(_KEY, points)),
                    # one type per array (the driver refuses a list mixing int and float)
                    list(map(float, map(_VALUE, points))),
                    list(map(int, map(_STEP, points))),
                    list(map(float, map(_TIMESTAMP, points))),
                ),
            )
    finally:
        cursor.close()


def newest_per_key(points: Sequence[Point]) -> list[Point]:
    """The point of each key with the greatest (step, timestamp), the later one on a tie."""
    stamps = sum(map(_TIMESTAMP, points))
    if stamps != stamps:  # a NaN timestamp (or inf and -inf): order is not total, compare
        newest: dict[str, Point] = {}
        for point in points:
            seen = newest.get(point[0])
            if seen is None or (point[2], point[3]) >= (seen[2], seen[3]):
                newest[point[0]] = point
        return list(newest.values())
    # a stable sort keeps equal (step, timestamp) in arrival order, so the last one of a
    # key in sorted order is the newest, later on a tie: both passes run in C
    last = {point[0]: point for point in sorted(points, key=_STEP_TIMESTAMP)}
    return list(last.values())


def set_journal_offset(conn: Connection, run_id: str, offset: int) -> None:
    _SET_OFFSET.execute(conn, {"rid": run_id, "offset": offset})


class MetricWriter:
    """Per-run buffer in front of the store, backed by a `MetricJournal`."""

    def __init__(
        self,
        engine: Engine,
        journal: MetricJournal,
        run_id: str,
        *,
        flush_points: int,
        flush_interval_s: float,
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.run_id = run_id
        self.flush_points = flush_points
        self.flush_interval_s = flush_interval_s
        self._pending: list[Point] = []
        self._pending_offset = journal.offset
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._scheduled = False

    def log(self, key: str, value: float, step: int, timestamp: float) -> None:
        line = encode_point(key, value, step, timestamp)
        with self._lock:
            self._pending_offset = self.journal.append(line)
            self._pending.append((key, value, step, timestamp))
            full = len(self._pending) >= self.flush_points
            if not self._scheduled:
                self._scheduled = True
                _FLUSHER.add(self)
        if full:
            self.flush()

    def log_many(self, points: Sequence[Point]) -> None:
        data, _ = encode_points(points)
        with self._lock:
            self._pending_offset = self.journal.append(data)
            self._pending.extend(points)
            full = len(self._pending) >= self.flush_points
            if not self._scheduled:
                self._scheduled = True
                _FLUSHER.add(self)
        if full:
            self.flush()

    def due(self, now: float) -> bool:
        return now - self._last_flush >= self.flush_interval_s

    def flush(self) -> None:
        """Write everything buffered so far to the store (one transaction)."""
        with self._flush_lock:
            with self._lock:
                points, offset = self._pending, self._pending_offset
                self._pending = []
            self._last_flush = time.monotonic()
            if not points:
                return
            try:
                with self.engine.begin() as conn:
                    write_points(conn, self.engine, self.run_id, points)
                    set_journal_offset(conn, self.run_id, offset)
                    keep_key_values_current(conn, self.run_id)
            except BaseException:
                with self._lock:  # keep them for the next attempt; the journal has them too
                    self._pending[:0] = points
                raise

    def stop(self) -> None:
        """Leave the background flusher (the caller flushes within its final transaction)."""
        _FLUSHER.remove(self)

    def take_pending(self) -> tuple[list[Point], int]:
        with self._flush_lock, self._lock:
            points, self._pending = self._pending, []
            return points, self._pending_offset


class _Flusher:
    """One daemon thread per process flushes every writer whose interval has passed."""

    TICK_S = 0.05

    def __init__(self) -> None:
        self._writers: set[MetricWriter] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, writer: MetricWriter) -> None:
        with self._lock:
            self._writers.add(writer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, daemon=True, name="loopml-metric-flusher"
                )
                self._thread.start()

    def remove(self, writer: MetricWriter) -> None:
        with self._lock:
            self._writers.discard(writer)

    def _loop(self) -> None:
        while True:
            time.sleep(self.TICK_S)
            now = time.monotonic()
            with self._lock:
                due = [w for w in self._writers if w.due(now)]
            for writer in due:
                try:
                    writer.flush()
                except Exception:  # the next tick (or the journal replay) retries
                    writer._last_flush = now


_FLUSHER = _Flusher()
