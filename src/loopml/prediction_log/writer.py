"""Who turns journal lines into segments: this process, or a writer process of its own.

A flush decodes JSON lines, builds Arrow columns from Python lists and writes Parquet:
seconds of CPU per million rows, nearly all of it holding the GIL. In a serving process
that time is taken from request handling, so `loopml serve` gives it to a writer process
(`ProcessWriter`): the server only appends to its journal and hands over byte ranges; the
writer reads those bytes from the journal file itself, so nothing but offsets crosses the
process boundary. The writer is started with `spawn`, never `fork`: a forked child would
inherit the journal's `flock` and keep a dead server's journal looking alive.

Both writers take the same arguments and give the same result, so a flush is retried,
replayed and deduplicated in the same way (see journal.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Literal, Protocol

from loopml.config.settings import Settings
from loopml.prediction_log.journal import read_range
from loopml.prediction_log.segments import write_segments
from loopml.prediction_log.tables import batches
from loopml.store import Stores, open_stores

log = logging.getLogger(__name__)

WriterKind = Literal["thread", "process"]
WRITER_KINDS: tuple[WriterKind, ...] = ("thread", "process")


class SegmentWriter(Protocol):
    def write(self, path: Path, journal_id: str, start: int, end: int, source: str) -> int:
        """Store the journal's records between offsets `start` and `end`; returns how many."""
        ...

    def close(self) -> None: ...


def write_range(
    stores: Stores, path: Path, journal_id: str, start: int, end: int, source: str
) -> int:
    """The records of `path[start:end]` as segments, committed with `end` as progress."""
    grouped, records = batches(read_range(path, start, end))
    write_segments(stores, grouped, journal_id=journal_id, end_offset=end, source=source)
    return records


class ThreadWriter:
    """Writes in the calling thread, with the log's own stores."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def write(self, path: Path, journal_id: str, start: int, end: int, source: str) -> int:
        return write_range(self.stores, path, journal_id, start, end, source)

    def close(self) -> None:
        pass


_child_stores: Stores | None = None  # the writer process's own connections
PARENT_CHECK_S = 0.5
INLINE_BYTES = 64 * 1024


def _open_child(settings: Settings, parent: int) -> None:
    global _child_stores
    # The server decides when the writer ends: a SIGTERM or Ctrl-C sent to the whole
    # process group must leave it alive for the server's last flush.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _child_stores = open_stores(settings)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """End the writer when its server is gone (even by kill -9, which closes no pipe the
    writer waits on): whatever it was writing is replayed from the journal."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _write_in_child(path: Path, journal_id: str, start: int, end: int, source: str) -> int:
    assert _child_stores is not None, "the writer process was not initialised"
    return write_range(_child_stores, path, journal_id, start, end, source)


class ProcessWriter:
    """Writes in one `spawn`ed process with its own connections to the stores.

    A range of at most `inline_bytes` (a quiet server's flush: a few hundred records) is
    written in the calling thread: it costs milliseconds, and a server that stays quiet
    never starts the process. A writer process that dies (killed, out of memory) fails the
    flush in progress; the next attempt starts a new one and writes the same range again,
    which commits nothing twice."""

    def __init__(self, stores: Stores, inline_bytes: int = INLINE_BYTES) -> None:
        self.settings = stores.settings
        self.inline_bytes = inline_bytes
        self._inline = ThreadWriter(stores)
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_open_child,
                    initargs=(self.settings, os.getpid()),
                )
            return self._pool

    def write(self, path: Path, journal_id: str, start: int, end: int, source: str) -> int:
        if end - start <= self.inline_bytes:
            return self._inline.write(path, journal_id, start, end, source)
        pool = self._executor()
        try:
            return pool.submit(_write_in_child, path, journal_id, start, end, source).result()
        except BrokenProcessPool:
            log.warning("the prediction log's writer process died; a new one will retry")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def pid(self) -> int | None:
        """The writer process's id, once started (for tests and diagnostics)."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) if pool is not None else None
        return next(iter(processes), None) if processes else None


def make_writer(kind: WriterKind, stores: Stores) -> SegmentWriter:
    if kind == "thread":
        return ThreadWriter(stores)
    if kind == "process":
        return ProcessWriter(stores)
    raise ValueError(f"writer must be one of {', '.join(WRITER_KINDS)}, got {kind!r}")
