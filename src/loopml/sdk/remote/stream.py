"""A remote run's metric points: journaled locally in microseconds, shipped in batches.

`log` appends one line to the run's journal with a single `write(2)` (the point survives
a `kill -9` of the client from then on) and returns; the client's shipping thread
(shipper.py) ships what is pending every `flush_interval_s` seconds, or sooner once
`flush_points` are waiting.
A batch is the byte range [start, end) of the journal's records and their points; the
server writes each range once (`loopml.tracking.streams`), so a batch sent again after a
lost answer, a server restart or a client crash is never counted twice. A server that is
down is retried until it is back: the points wait in the journal meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loopml.errors import LoopmlError
from loopml.sdk.remote.http import RemoteHttp, ServerUnavailableError
from loopml.sdk.remote.shipper import Shipper
from loopml.store.journal import LockedJournal
from loopml.store.journal import orphaned_journals as locked_orphans
from loopml.tracking.journal import Point, encode_point, encode_points
from loopml.tracking.streams import StreamGapError

log = logging.getLogger("loopml.remote")
SUFFIX = ".stream"
CHUNK_POINTS = 10_000  # points per request: ~0.5 MB of JSON


@dataclass(frozen=True)
class StreamHeader:
    run_id: str
    server: str
    stream: str
    pid: int
    create: dict[str, Any] | None = None  # the run's creation, if the stream carried it


def read_header(path: Path) -> tuple[StreamHeader, int] | None:
    """A journal's header and where its records start, or None if unreadable."""
    with open(path, "rb") as handle:
        first = handle.readline()
    if not first.endswith(b"\n"):
        return None
    try:
        data = json.loads(first)
        header = StreamHeader(
            data["run_id"], data["server"], data["stream"], int(data["pid"]), data.get("create")
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return header, len(first)


def read_records(path: Path, base: int, start: int, end: int | None = None) -> list[Pending]:
    """The complete points of records [start, end) (offsets after the header at `base`),
    each with the offset after it; a torn last line is left out."""
    with open(path, "rb") as handle:
        handle.seek(base + start)
        data = handle.read() if end is None else handle.read(end - start)
    found: list[Pending] = []
    offset = start
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        offset += len(line)
        key, value, step, stamp = line.decode().rstrip("\n").split("\t")
        found.append(((key, float(value), int(step), float(stamp)), offset))
    return found


Pending = tuple[Point, int]  # a point and the record offset after it


class MetricStream:
    """The journal and the shipping of one remote run's metric points."""

    def __init__(
        self,
        http: RemoteHttp,
        run_id: str,
        folder: Path,
        *,
        shipper: Shipper,
        flush_points: int,
        flush_interval_s: float,
        create: dict[str, Any] | None = None,
    ) -> None:
        self.http = http
        self.run_id = run_id
        self.id = secrets.token_hex(12)
        self.flush_points = flush_points
        self.flush_interval_s = flush_interval_s
        self.create = create  # the run's creation, until a request has carried it
        header: dict[str, Any] = {
            "run_id": run_id,
            "server": http.url,
            "stream": self.id,
            "pid": os.getpid(),
        }
        if create is not None:
            header["create"] = create
        self.journal = LockedJournal(folder / f"{self.id}{SUFFIX}", orjson.dumps(header) + b"\n")
        self._base = self.journal.start
        self._pending: list[Pending] = []
        self._written = 0  # records journaled so far (bytes after the header)
        self._held = 0  # records the server holds
        self._lock = threading.Lock()  # the pending list and offsets
        self._shipping = threading.Lock()  # one shipment at a time, in journal order
        self._shipper = shipper
        self._registered = False  # with the shipper, for rounds in the background
        self._closed = False
        self.failure: LoopmlError | None = None  # a refusal shipping cannot get past
        if create is not None:
            self._register()  # the run is created within flush_interval_s, logged to or not

    @property
    def written(self) -> int:
        return self._written

    # ------------------------------------------------------------------ logging
    def log(self, key: str, value: float, step: int, timestamp: float) -> None:
        line = encode_point(key, value, step, timestamp)
        with self._lock:
            end = self.journal.append(line) - self._base
            self._pending.append(((key, value, step, timestamp), end))
            self._written = end
            full = len(self._pending) >= self.flush_points
        if not self._registered:
            self._register()
        if full:
            self._shipper.wake(self)

    def log_many(self, points: Sequence[Point]) -> None:
        data, sizes = encode_points(points)
        with self._lock:
            offset = self._written
            end = self.journal.append(data) - self._base
            for point, size in zip(points, sizes, strict=True):
                offset += size
                self._pending.append((point, offset))
            self._written = end
            full = len(self._pending) >= self.flush_points
        if not self._registered:
            self._register()
        if full:
            self._shipper.wake(self)

    def _register(self) -> None:
        self._registered = True
        self._shipper.add(self)

    # ------------------------------------------------------------------ shipping
    def ship_round(self) -> bool:
        """A background round (the shipper's thread): ship what is pending; False when
        shipping cannot go on (a refusal, kept in `failure`, or the stream is closed)."""
        if self._closed:
            return False
        try:
            self.ship()
        except ServerUnavailableError as exc:  # still down: the next round tries again
            log.warning("%s; %d metric points wait in %s", exc, self.pending, self.path)
        except LoopmlError as exc:
            self.failure = exc
            log.error("metric points of %s are refused: %s", self.run_id, exc)
            return False
        except Exception:  # never let the thread die silently
            log.exception("shipping metric points of %s failed", self.run_id)
        return True

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def path(self) -> Path:
        return self.journal.path

    def ship(
        self, extra: dict[str, Any] | None = None, route: str = "batches"
    ) -> dict[str, Any] | None:
        """Send everything pending now, in order; `extra` fields (params, tags; or the end
        of the run) go with the last request, sent to `route`. Returns its answer."""
        if self.failure is not None:
            raise self.failure
        with self._shipping:
            if self._closed:
                return None
            with self._lock:
                batch = list(self._pending)
                start = self._held
            chunks = [batch[i : i + CHUNK_POINTS] for i in range(0, len(batch), CHUNK_POINTS)]
            if not chunks and extra is None and self.create is None:
                return None
            answer: dict[str, Any] | None = None
            for index, chunk in enumerate(chunks or [[]]):
                last = index == max(len(chunks), 1) - 1
                answer = self._send(
                    start,
                    chunk,
                    extra if last else None,
                    route if last else "batches",
                )
                start = chunk[-1][1] if chunk else start
                with self._lock:
                    del self._pending[: len(chunk)]
                    self._held = max(self._held, start)
            return answer

    def _send(
        self, start: int, chunk: list[Pending], extra: dict[str, Any] | None, route: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = dict(extra or {})
        if chunk:
            body["stream"] = {
                "id": self.id,
                "start": start,
                "end": chunk[-1][1],
                "points": [point for point, _ in chunk],
            }
        try:
            return dict(self._post(route, body))
        except StreamGapError as gap:
            if gap.absorbed > start:  # the server holds more than this side knew
                kept = [item for item in chunk if item[1] > gap.absorbed]
                if kept or extra is not None:
                    return self._send(gap.absorbed, kept, extra, route)
                return {"absorbed": gap.absorbed}
            self._resend(gap.absorbed, start)  # fill the hole from the journal, then retry
            return dict(self._post(route, body))

    def _resend(self, start: int, end: int) -> None:
        """Records [start, end) again, read back from the journal."""
        records = read_records(self.path, self._base, start, end)
        for i in range(0, len(records), CHUNK_POINTS):
            chunk = records[i : i + CHUNK_POINTS]
            self._post("batches", _segment(self.id, start, chunk))
            start = chunk[-1][1]

    def _post(self, route: str, body: dict[str, Any]) -> Any:
        create = self.create
        if create is not None:
            body = {**body, "create": create}
        answer = self.http.call("POST", f"/runs/{self.run_id}/{route}", json=body, idempotent=True)
        self.create = None  # the server has the run now
        return answer

    # ------------------------------------------------------------------ closing
    def finish(self, end: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Stop the background rounds and ship the rest with the run's end (`end` adds
        its fields to the last request); the journal is removed once the server has it."""
        self._shipper.remove(self)  # a round under way holds `_shipping` until it is done
        with self._lock:
            final = self._written
        answer = self.ship(end({"stream_id": self.id, "stream_end": final}), route="end")
        with self._shipping:
            self._closed = True
            self.journal.close(remove=True)
        return answer or {}

    def abandon(self) -> None:
        """Stop shipping and keep the journal: the next client start replays it."""
        self._shipper.remove(self)
        with self._shipping:
            self._closed = True
            self.journal.close(remove=False)


def _segment(stream_id: str, start: int, chunk: list[Pending]) -> dict[str, Any]:
    return {
        "stream": {
            "id": stream_id,
            "start": start,
            "end": chunk[-1][1],
            "points": [point for point, _ in chunk],
        }
    }


def orphaned_streams(folder: Path) -> Iterator[Path]:
    """Stream journals whose client is gone (each yielded while this process holds it)."""
    return locked_orphans(folder, SUFFIX)
