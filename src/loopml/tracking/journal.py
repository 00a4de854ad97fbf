"""An append-only local journal of metric points, so a killed process loses none.

Every `log_metric` call appends one line with a single `write(2)` before it returns, so the
point is in the kernel's page cache and survives the death of the process (`kill -9`). The
metadata store records how many journal bytes it has absorbed (`runs.journal_offset`);
whoever opens the workspace next replays the rest. A journal is locked (`flock`) by its
writer for the writer's whole life: a journal that can be locked belongs to a dead process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopml.store.journal import LockedJournal
from loopml.store.journal import orphaned_journals as locked_orphans

SUFFIX = ".journal"
Point = tuple[str, float, int, float]  # key, value, step, timestamp


@dataclass(frozen=True)
class JournalHeader:
    run_id: str
    store: str
    pid: int


def encode_point(key: str, value: float, step: int, timestamp: float) -> bytes:
    return f"{key}\t{value!r}\t{step}\t{timestamp!r}\n".encode()


def encode_points(points: Sequence[Point]) -> tuple[bytes, list[int]]:
    """Many points' journal lines as one write, and each line's length in bytes.

    A batch usually shares one timestamp, whose text is made once; the lines are encoded
    together (keys are ASCII, so characters are bytes, unless a caller passed others)."""
    stamps: dict[float, str] = {}
    lines: list[str] = []
    for key, value, step, timestamp in points:
        stamp = stamps.get(timestamp)
        if stamp is None:
            stamp = stamps[timestamp] = repr(timestamp)
        lines.append(f"{key}\t{value!r}\t{step}\t{stamp}\n")
    text = "".join(lines)
    data = text.encode()
    if len(data) == len(text):
        return data, [len(line) for line in lines]
    encoded = [line.encode() for line in lines]
    return data, [len(line) for line in encoded]


class MetricJournal(LockedJournal):
    """The writer side: created with the run, removed when the run has ended cleanly."""

    def __init__(self, folder: Path, run_id: str, store: str) -> None:
        header = json.dumps({"run_id": run_id, "store": store, "pid": os.getpid()}) + "\n"
        super().__init__(folder / f"{run_id}{SUFFIX}", header.encode())


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


def orphaned_journals(folder: Path) -> Iterator[Path]:
    """Metric journals whose writer is gone (see `loopml.store.journal`)."""
    return locked_orphans(folder, SUFFIX)
