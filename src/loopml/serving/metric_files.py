"""One worker's metrics, copied into the server's shared metrics folder now and then.

prometheus_client's multiprocess mode writes an mmap file on every observation: a lock, a
struct pack and a page write for each counter, histogram sum and bucket a request touches,
~12 µs per request measured under `loopml serve --workers 2`. Here each worker counts in
its own memory (prometheus_client's plain in-process values) and `MetricFiles.flush()`
copies the totals into this worker's files of that folder, in the very format
`MultiProcessCollector` reads and adds up, every `FLUSH_INTERVAL_S`, before this worker
answers `/metrics`, and at shutdown. A scrape therefore sees this worker's counts exactly
and the other workers' counts as of at most `FLUSH_INTERVAL_S` ago; a worker killed with
SIGKILL loses the counts of its last interval (the prediction log, not the metrics, is
the durable record of what was answered).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.samples import Sample

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0  # a copy costs ~0.4 ms; scrapes come every 15 s or so
GAUGE_MODE: Final = "liveall"  # every gauge of a worker is reported with its pid while it lives


INITIAL_FILE_BYTES = 1 << 20  # as prometheus_client sizes a new file; it grows as needed


def _create_sized(path: Path) -> None:
    """Put a zero-filled file at `path` in one rename unless one is there. `MmapedDict`
    creates a missing file empty and sizes it afterwards, and a scrape reading the folder in
    between failed on the empty file; a zero-filled one reads as holding no values."""
    if path.exists():
        return
    staging = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")  # not a *.db
    with open(staging, "wb") as out:
        out.truncate(INITIAL_FILE_BYTES)
    os.replace(staging, path)


class MetricFiles:
    """Copies a registry's values into `<folder>/<type>_<pid>.db` files (no per-call I/O)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        folder: str | Path,
        *,
        pid: int | None = None,
        interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.registry = registry
        self.folder = Path(folder)
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self._files: dict[str, MmapedDict] = {}
        self._keys: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._lock = threading.Lock()  # one flush at a time; close() waits for it
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = False

    def flush(self) -> None:
        """Write every current value of the registry to this worker's files."""
        with self._lock:
            if self._done:
                return  # closed: the files hold the final values
            for family in self.registry.collect():
                if family.type == "histogram":
                    self._write_histogram(family.name, family.documentation, family.samples)
                    continue
                prefix = f"gauge_{GAUGE_MODE}" if family.type == "gauge" else family.type
                if prefix not in ("counter", f"gauge_{GAUGE_MODE}"):
                    continue  # summaries and others: none are defined for serving
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue  # not kept in multiprocess mode
                    key = self._key(family.name, sample.name, sample.labels, family.documentation)
                    self._file(prefix).write_value(key, sample.value, 0.0)  # type: ignore[no-untyped-call]

    def _write_histogram(self, name: str, doc: str, samples: Sequence[Sample]) -> None:
        """Buckets go to the files one by one (not cumulative), with the sum; the collector
        adds them up again and derives the count."""
        previous: dict[tuple[tuple[str, str], ...], float] = {}
        for sample in samples:
            if sample.name == name + "_bucket":
                labels = {k: v for k, v in sample.labels.items() if k != "le"}
                series = tuple(sorted(labels.items()))
                own = sample.value - previous.get(series, 0.0)  # buckets arrive in order
                previous[series] = sample.value
                key = self._key(name, sample.name, sample.labels, doc)
                self._file("histogram").write_value(key, own, 0.0)  # type: ignore[no-untyped-call]
            elif sample.name == name + "_sum":
                key = self._key(name, sample.name, sample.labels, doc)
                self._file("histogram").write_value(key, sample.value, 0.0)  # type: ignore[no-untyped-call]

    def _key(self, metric: str, sample: str, labels: dict[str, str], doc: str) -> str:
        """prometheus_client's own key (`mmap_key`): JSON of name, sample, labels, help."""
        cache_key = (metric, sample, tuple(labels.items()))
        key = self._keys.get(cache_key)
        if key is None:
            key = json.dumps([metric, sample, labels, doc], sort_keys=True)
            self._keys[cache_key] = key
        return key

    def _file(self, prefix: str) -> MmapedDict:
        found = self._files.get(prefix)
        if found is None:
            path = self.folder / f"{prefix}_{self.pid}.db"
            _create_sized(path)
            found = MmapedDict(str(path))  # type: ignore[no-untyped-call]
            self._files[prefix] = found
        return found

    def start(self) -> None:
        """Flush every `interval_s` in a daemon thread until `close()`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, daemon=True, name="loopml-metric-files")
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.wait(self.interval_s):
            try:
                self.flush()
            except Exception:  # a full disk must not stop serving; the next flush retries
                log.exception("copying the serving metrics to %s failed", self.folder)

    def close(self) -> None:
        """A last flush, then the files are closed (they stay for the other workers)."""
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        try:
            self.flush()
        finally:
            with self._lock:
                for mapped in self._files.values():
                    mapped.close()  # type: ignore[no-untyped-call]
                self._files.clear()
                self._done = True
