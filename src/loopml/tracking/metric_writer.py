"""Buffered metric logging: journal first, then bulk writes to the store.

`log` costs one small `write(2)`; points reach the database in bulk, when the buffer holds
`flush_points` points, every `flush_interval_s` seconds (a background thread), and when the
run ends. Each bulk write also records the journal offset it covers, in the same
transaction, so a replay after a crash neither loses nor repeats a point.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, update

from loopml.store import dialect_insert
from loopml.store.schema import latest_metrics, metrics, runs
from loopml.tracking.journal import MetricJournal, Point, encode_point


def write_points(conn: Connection, engine: Engine, run_id: str, points: Sequence[Point]) -> None:
    """Insert points and keep `latest_metrics` at the newest (step, timestamp) per key."""
    if not points:
        return
    conn.execute(
        metrics.insert(),
        [
            {"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t}
            for k, v, s, t in points
        ],
    )
    newest: dict[str, Point] = {}
    for point in points:
        seen = newest.get(point[0])
        if seen is None or (point[2], point[3]) >= (seen[2], seen[3]):
            newest[point[0]] = point
    insert = dialect_insert(engine)
    for key, value, step, timestamp in newest.values():
        stmt = insert(latest_metrics).values(
            run_id=run_id, key=key, value=value, step=step, timestamp=timestamp
        )
        excluded = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_id", "key"],
                set_={
                    "value": excluded.value,
                    "step": excluded.step,
                    "timestamp": excluded.timestamp,
                },
                where=(latest_metrics.c.step < excluded.step)
                | (
                    (latest_metrics.c.step == excluded.step)
                    & (latest_metrics.c.timestamp <= excluded.timestamp)
                ),
            )
        )


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
        self._steps: dict[str, int] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._flush_periodically, daemon=True, name=f"loopml-metrics-{run_id}"
        )
        self._thread.start()

    def next_step(self, key: str) -> int:
        return self._steps.get(key, -1) + 1

    def log(self, key: str, value: float, step: int, timestamp: float) -> None:
        line = encode_point(key, value, step, timestamp)
        with self._lock:
            self._pending_offset = self.journal.append(line)
            self._pending.append((key, value, step, timestamp))
            if step > self._steps.get(key, -1):
                self._steps[key] = step
            full = len(self._pending) >= self.flush_points
        if full:
            self.flush()

    def log_many(self, points: Sequence[Point]) -> None:
        data = b"".join(encode_point(*p) for p in points)
        with self._lock:
            self._pending_offset = self.journal.append(data)
            self._pending.extend(points)
            for key, _, step, _ in points:
                if step > self._steps.get(key, -1):
                    self._steps[key] = step
            full = len(self._pending) >= self.flush_points
        if full:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered so far to the store (one transaction)."""
        with self._flush_lock:
            with self._lock:
                points, offset = self._pending, self._pending_offset
                self._pending = []
            if not points:
                return
            try:
                with self.engine.begin() as conn:
                    write_points(conn, self.engine, self.run_id, points)
                    conn.execute(
                        update(runs).where(runs.c.id == self.run_id).values(journal_offset=offset)
                    )
            except BaseException:
                with self._lock:  # keep them for the next attempt; the journal has them too
                    self._pending[:0] = points
                raise

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self.flush_interval_s):
            try:
                self.flush()
            except Exception:  # the next flush (or the journal replay) retries
                time.sleep(self.flush_interval_s)

    def stop(self) -> None:
        """Stop the background thread (the caller flushes within its final transaction)."""
        self._closed.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def take_pending(self) -> tuple[list[Point], int]:
        with self._flush_lock, self._lock:
            points, self._pending = self._pending, []
            return points, self._pending_offset
