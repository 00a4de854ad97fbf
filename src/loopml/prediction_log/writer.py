"""Who turns journal lines into segments: this process, or a writer process of its own.

A flush decodes JSON lines, builds Arrow columns from Python lists and writes Parquet:
seconds of CPU per million rows, nearly all of it holding the GIL. In a serving process
that time is taken from request handling, so `loopml serve` gives it to a writer process
(`ProcessWriter`): the server only appends to its journal and hands over byte ranges; the
writer reads those bytes from the journal file itself, so nothing but offsets crosses the
process boundary.

The writer is a fresh interpreter (`python -m loopml.prediction_log.writer_process`)
talking over its stdin and stdout, not a multiprocessing child: it imports only what it
needs, never re-runs the server's main script (which `spawn` would, and which starts a
second server when that script has no `__main__` guard), inherits no lock (`fork` would
keep the journal's `flock`) and ends by itself when its server dies, even by `kill -9`,
since its stdin then closes.

Both writers take the same arguments and give the same result, so a flush is retried,
replayed and deduplicated in the same way (see journal.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Literal, Protocol

import orjson

from loopml.errors import LoopmlError
from loopml.prediction_log.journal import read_range
from loopml.prediction_log.segments import write_segments
from loopml.prediction_log.tables import batches
from loopml.store import Stores

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


INLINE_BYTES = 64 * 1024
STOP_TIMEOUT_S = 30.0
WRITER_MODULE = "loopml.prediction_log.writer_process"


class WriterDied(LoopmlError):
    """The writer process ended during a flush; the next flush starts another."""


class ProcessWriter:
    """Writes in a writer process with its own connections to the stores.

    A range of at most `inline_bytes` (a quiet server's flush: a few hundred records) is
    written in the calling thread: it costs milliseconds, and a server that stays quiet
    never starts the process. A writer process that dies (killed, out of memory) fails the
    flush in progress; the next attempt starts a new one and writes the same range again,
    which commits nothing twice."""

    def __init__(self, stores: Stores, inline_bytes: int = INLINE_BYTES) -> None:
        self.settings = stores.settings
        self.inline_bytes = inline_bytes
        self._inline = ThreadWriter(stores)
        self._lock = threading.Lock()  # one range at a time, one process at a time
        self._proc: subprocess.Popen[bytes] | None = None

    def _process(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            return proc
        env = dict(os.environ)
        source_root = str(Path(__file__).resolve().parents[2])  # this very loopml
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", WRITER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,  # the journal's flock must stay with the server alone
        )
        assert proc.stdin is not None
        proc.stdin.write(self.settings.model_dump_json().encode() + b"\n")
        proc.stdin.flush()
        self._proc = proc
        return proc

    def write(self, path: Path, journal_id: str, start: int, end: int, source: str) -> int:
        if end - start <= self.inline_bytes:
            return self._inline.write(path, journal_id, start, end, source)
        job = {"path": str(path), "journal_id": journal_id, "start": start, "end": end}
        job["source"] = source
        with self._lock:
            proc = self._process()
            reply = _ask(proc, orjson.dumps(job))
            if reply is None:
                self._proc = None
                _end(proc)
                log.warning("the prediction log's writer process died; a new one will retry")
                raise WriterDied(f"the prediction log's writer process ended ({proc.returncode})")
        if "error" in reply:
            raise LoopmlError(f"the prediction log's writer process failed: {reply['error']}")
        records = reply["records"]
        assert isinstance(records, int)
        return records

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc, STOP_TIMEOUT_S)

    def pid(self) -> int | None:
        """The writer process's id while it runs (for tests and diagnostics)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None


def _end(proc: subprocess.Popen[bytes], timeout: float = 0.0) -> None:
    """Close the writer's stdin (its signal to finish), wait for it, kill it if it lingers."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def _ask(proc: subprocess.Popen[bytes], job: bytes) -> dict[str, object] | None:
    """Send one job, read its answer; None when the process is gone."""
    stdin: IO[bytes] | None = proc.stdin
    stdout: IO[bytes] | None = proc.stdout
    if stdin is None or stdout is None:
        return None
    try:
        stdin.write(job + b"\n")
        stdin.flush()
        line = stdout.readline()
    except OSError:  # a broken pipe: it died before reading the job
        return None
    if not line:
        return None
    answer: dict[str, object] = orjson.loads(line)
    return answer


def make_writer(kind: WriterKind, stores: Stores) -> SegmentWriter:
    if kind == "thread":
        return ThreadWriter(stores)
    if kind == "process":
        return ProcessWriter(stores)
    raise ValueError(f"writer must be one of {', '.join(WRITER_KINDS)}, got {kind!r}")
