"""An append-only local journal of metric points, so a killed process loses none.

Every `log_metric` call appends one line with a single `write(2)` before it returns, so the
point is in the kernel's page cache and survives the death of the process (`kill -9`). The
metadata store records how many journal bytes it has absorbed (`runs.journal_offset`);
whoever opens the workspace next replays the rest. A journal is locked (`flock`) by its
writer for the writer's whole life: a journal that can be locked belongs to a dead process.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Point = tuple[str, float, int, float]  # key, value, step, timestamp


@dataclass(frozen=True)
class JournalHeader:
    run_id: str
    store: str
    pid: int


def encode_point(key: str, value: float, step: int, timestamp: float) -> bytes:
    return f"{key}\t{value!r}\t{step}\t{timestamp!r}\n".encode()


class MetricJournal:
    """The writer side: created with the run, removed when the run has ended cleanly."""

    def __init__(self, folder: Path, run_id: str, store: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{run_id}.journal"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        header = json.dumps({"run_id": run_id, "store": store, "pid": os.getpid()}) + "\n"
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, header.encode())
        self.offset = os.fstat(self._fd).st_size
        self.start_offset = self.offset

    def append(self, line: bytes) -> int:
        """Append one encoded point; returns the journal size after it."""
        os.write(self._fd, line)
        self.offset += len(line)
        return self.offset

    def close(self, *, remove: bool) -> None:
        if self._fd < 0:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = -1


def read_header(path: Path) -> tuple[JournalHeader, int] | None:
    """The header and the byte offset where points start, or None if unreadable."""
    with open(path, "rb") as handle:
        first = handle.readline()
    if not first.endswith(b"\n"):
        return None
    try:
        data = json.loads(first)
        return JournalHeader(data["run_id"], data["store"], int(data["pid"])), len(first)
    except (ValueError, KeyError, TypeError):
        return None


def read_points(path: Path, offset: int) -> tuple[list[Point], int]:
    """Complete points after `offset`, and the offset after the last complete one."""
    points: list[Point] = []
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # a torn last line (never returned to the caller) is dropped
    for line in data[:end].splitlines():
        key, value, step, timestamp = line.decode().split("\t")
        points.append((key, float(value), int(step), float(timestamp)))
    return points, offset + end


def orphaned_journals(folder: Path) -> Iterator[tuple[Path, int]]:
    """Journals whose writer is gone, each yielded while this process holds its lock."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.journal")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            if path.exists():
                yield path, fd
        finally:
            os.close(fd)
