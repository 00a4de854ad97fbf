"""`PredictionLog`: the serving app's durable, cheap prediction and feedback log.

`record()` costs one orjson encode and one `write(2)` to this process's journal; rows reach
Parquet segments in bulk from a background thread (`start()`), on `flush()` and on
`close()`. A flush hands a byte range of the journal to a writer (writer.py): this
process's flush thread, or a writer process (`writer="process"`, what `loopml serve`
uses) so that building segments takes no time from request handling. See
docs/prediction-log.md for the durability contract.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import duckdb
import pandas as pd

from loopml.errors import LoopmlError
from loopml.prediction_log import queries
from loopml.prediction_log.compaction import CompactionReport, compact
from loopml.prediction_log.journal import (
    PredictionJournal,
    new_journal_id,
    orphaned_journals,
    read_header,
    read_lines,
)
from loopml.prediction_log.pages import LogPage, page_frame
from loopml.prediction_log.records import (
    PredictionRecord,
    encode_feedback,
    encode_prediction,
    row_count,
)
from loopml.prediction_log.segments import journal_progress, write_segments
from loopml.prediction_log.tables import batches
from loopml.prediction_log.writer import WriterKind, make_writer
from loopml.store import Stores

log = logging.getLogger(__name__)

JOURNAL_FOLDER = "predictions"
ROTATE_BYTES = 64 * 1024 * 1024  # start a new journal once this much is safely in segments


class PredictionLog:
    """Append-only prediction and feedback logs of deployments, one journal per process."""

    def __init__(
        self,
        stores: Stores,
        *,
        flush_interval_s: float = 1.0,
        flush_rows: int = 20_000,
        source: str | None = None,
        rotate_bytes: int = ROTATE_BYTES,
        writer: WriterKind = "thread",
    ) -> None:
        self.stores = stores
        self.flush_interval_s = flush_interval_s
        self.flush_rows = flush_rows
        self.source = source or f"{socket.gethostname()}-{os.getpid()}"
        self.rotate_bytes = rotate_bytes
        self.folder = stores.journal_dir / JOURNAL_FOLDER
        self._store = stores.engine.url.render_as_string(hide_password=True)
        self._lock = threading.Lock()  # journal appends and the buffer
        self._flush_lock = threading.Lock()  # one flush at a time, in journal order
        self._writer = make_writer(writer, stores)
        self._journal = self._open_journal()
        self._flushed = self._journal.offset  # journal bytes handed to the writer so far
        self._pending_rows = 0
        # A flush that failed is retried as it was (same range of the journal), so a
        # commit that succeeded but reported an error is not written twice.
        self._inflight: tuple[PredictionJournal, int, int] | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ hot path
    def record(self, rec: PredictionRecord) -> None:
        """Log one answered request; durable (journaled) when this returns."""
        self._append(encode_prediction(rec), row_count(rec))

    def record_feedback(
        self,
        deployment: str,
        request_id: str,
        label: Any,
        at: float | None = None,
        *,
        version: int = 1,
        event_time: float | None = None,
    ) -> None:
        """Log the true label of a request: one value for every row, or a list (one per row).

        `version` numbers the labels of one request (2 and up: re-labels); the latest wins.
        `event_time` is when the outcome happened, if the sender said so.
        """
        now = time.time() if at is None else at
        line = encode_feedback(deployment, request_id, label, now, version, event_time)
        self._append(line, len(label) if isinstance(label, list) else 1)

    def _append(self, line: bytes, rows: int) -> None:
        with self._lock:
            if self._journal.fd < 0:
                raise LoopmlError("this PredictionLog is closed: create a new one to record")
            self._journal.append(line)
            self._pending_rows += rows
            full = self._pending_rows >= self.flush_rows
        if full:
            if self._thread is not None:
                self._wake.set()  # the request path never waits for a flush
            else:
                self.flush()

    # ------------------------------------------------------------------ flushing
    def flush(self) -> int:
        """Write every buffered record to segments; returns how many records were written."""
        written = 0
        with self._flush_lock:
            while (records := self._flush_range()) is not None:
                written += records
        return written

    def _flush_range(self) -> int | None:
        """Write the range that failed last, else everything journaled since the last flush;
        None when there was nothing to write (called under _flush_lock)."""
        if self._inflight is None:
            with self._lock:
                if self._journal.offset == self._flushed:
                    return None
                self._inflight = (self._journal, self._flushed, self._journal.offset)
                self._flushed, self._pending_rows = self._journal.offset, 0
        journal, start, end = self._inflight
        records = self._writer.write(journal.path, journal.journal_id, start, end, self.source)
        self._inflight = None
        self._maybe_rotate(end)
        return records

    def _maybe_rotate(self, committed: int) -> None:
        """Replace a large, fully written journal by a fresh one (called under _flush_lock)."""
        if self._journal.offset < self.rotate_bytes:
            return
        fresh = self._open_journal()
        with self._lock:
            old = self._journal
            if old.offset != committed or self._flushed != committed:
                fresh.close(remove=True)  # new records arrived meanwhile: next time
                return
            self._journal = fresh
            self._flushed = fresh.offset
        old.close(remove=True)

    def _open_journal(self) -> PredictionJournal:
        while True:  # a journal id must never collide with one whose segments exist
            journal_id = new_journal_id()
            if journal_progress(self.stores, journal_id) == 0:
                return PredictionJournal(self.folder, journal_id, self._store, self.source)

    def start(self) -> None:
        """Flush in a background thread every `flush_interval_s` (and when `flush_rows` fill)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._flush_periodically, daemon=True, name="loopml-prediction-log"
        )
        self._thread.start()

    def _flush_periodically(self) -> None:
        """One range per interval (or per `flush_rows`), never a chase of the records that
        arrived during the last write: on a busy server those small ranges were written
        in this thread, holding the GIL, instead of by the writer process."""
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                with self._flush_lock:
                    self._flush_range()
            except Exception:  # the journal keeps everything: the next flush retries
                log.exception("prediction log flush failed; will retry")
                self._closed.wait(self.flush_interval_s)

    def close(self) -> None:
        """Stop the flusher and write everything; the journal is removed once all is stored."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
        try:
            self.flush()
        finally:
            self._writer.close()
            with self._lock:
                done = self._inflight is None and self._journal.offset == self._flushed
                self._journal.close(remove=done)  # kept on failure: recover() replays it

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recovery
    def recover(self) -> int:
        """Write the records of journals left by dead processes; returns how many."""
        recovered = 0
        for path in orphaned_journals(self.folder):
            parsed = read_header(path)
            if parsed is None:
                continue
            header, start = parsed
            if header.store != self._store:
                continue  # written for another metadata store: leave it to its owner
            offset = max(start, journal_progress(self.stores, header.journal_id))
            lines = read_lines(path, offset)
            for chunk in _chunks(lines, self.flush_rows):
                grouped, records = batches(line for line, _ in chunk)
                write_segments(
                    self.stores,
                    grouped,
                    journal_id=header.journal_id,
                    end_offset=chunk[-1][1],
                    source=header.source,
                )
                recovered += records
            path.unlink(missing_ok=True)
            log.info("recovered %d prediction log records from %s", recovered, path)
        return recovered

    # ------------------------------------------------------------------ queries
    def predictions(
        self,
        deployment: str,
        *,
        since: float | None = None,
        until: float | None = None,
        include_shadow: bool = False,
        time_basis: str = "arrival",
    ) -> pd.DataFrame:
        """Flushed prediction rows with `since <= time < until`, oldest first; on the
        `event` time basis `time` is each row's event time (see `queries`)."""
        return queries.predictions_frame(
            self.stores,
            deployment,
            since=since,
            until=until,
            include_shadow=include_shadow,
            time_basis=time_basis,
        )

    def page(
        self,
        deployment: str,
        *,
        since: float | None = None,
        until: float | None = None,
        include_shadow: bool = False,
        labelled: bool = False,
        max_rows: int = 10_000,
        page_token: str | None = None,
    ) -> LogPage:
        """One page of the rows `predictions` (or, with `labelled`, `labelled`) returns,
        in the same order; pass `next_page_token` back for the next page (pages.py)."""
        return page_frame(
            self.stores,
            deployment,
            since=since,
            until=until,
            include_shadow=include_shadow,
            labelled=labelled,
            max_rows=max_rows,
            page_token=page_token,
        )

    def compact(self, deployment: str | None = None, **options: Any) -> CompactionReport:
        """Rewrite the closed partitions' small segments into one per partition
        (compaction.py; options: partition_s, min_age_s, retire_grace_s)."""
        return compact(self.stores, deployment, **options)

    def feedback(self, deployment: str) -> pd.DataFrame:
        """Flushed feedback rows (`row` is null for a label of the whole request)."""
        return queries.feedback_frame(self.stores, deployment)

    def labelled(
        self,
        deployment: str,
        *,
        since: float | None = None,
        until: float | None = None,
        include_shadow: bool = False,
    ) -> pd.DataFrame:
        """Prediction rows that have feedback, with the latest `label` and its `label_time`."""
        return queries.labelled_frame(
            self.stores, deployment, since=since, until=until, include_shadow=include_shadow
        )

    def answered(self, deployment: str, request_id: str) -> queries.Answered | None:
        """How a flushed request was answered (model, rows, labels so far), or None."""
        return queries.answered(self.stores, deployment, request_id)

    def duckdb(self, deployment: str) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with views `predictions` and `feedback` for ad-hoc SQL."""
        return queries.connect(self.stores, deployment)


def _chunks(lines: list[tuple[bytes, int]], size: int) -> list[list[tuple[bytes, int]]]:
    return [lines[i : i + size] for i in range(0, len(lines), max(size, 1))]
