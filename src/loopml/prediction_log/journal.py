"""The per-process journal of the prediction log: what makes `record()` durable.

Each `PredictionLog` appends one line per record to its own journal file with a single
`write(2)` before `record()` returns, so an acknowledged record is in the kernel's page
cache and survives `kill -9` of the process. The writer holds an `flock` on its journal for
its whole life; a journal that can be locked belongs to a dead process and is replayed by
`PredictionLog.recover()`.

How far a journal has been written to segments is stored in the metadata store, in the same
transaction as the segments: the journal's row in `log_journals` holds the journal offset the
last committed flush ends at. Replay resumes after it, and a flush retried after a commit
that succeeded but reported an error finds its offset already committed and writes nothing,
so every record lands in the log exactly once. Segment ids also carry the journal and the
offset (`lseg-<journal>-<end offset, hex>-<n>`), which keeps them unique; compaction later
replaces these segments by larger ones without touching the offsets.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from loopml.store.journal import LockedJournal
from loopml.store.journal import orphaned_journals as locked_orphans

SUFFIX = ".plog"
SEGMENT_PREFIX = "lseg-"


@dataclass(frozen=True)
class JournalHeader:
    """The first line of a journal: who wrote it, for which store."""

    journal_id: str
    store: str
    source: str
    pid: int


def new_journal_id() -> str:
    return uuid.uuid4().hex[:12]


def segment_id(journal_id: str, end_offset: int, n: int) -> str:
    """The id of the `n`-th segment of the flush that ends at `end_offset` of a journal."""
    return f"{SEGMENT_PREFIX}{journal_id}-{end_offset:x}-{n}"


class PredictionJournal(LockedJournal):
    """The writer side: an append-only, flock'ed file owned by one `PredictionLog`."""

    def __init__(self, folder: Path, journal_id: str, store: str, source: str) -> None:
        self.journal_id = journal_id
        header = {"journal_id": journal_id, "store": store, "source": source, "pid": os.getpid()}
        super().__init__(
            folder / f"{journal_id}{SUFFIX}", orjson.dumps(header, option=orjson.OPT_APPEND_NEWLINE)
        )


def read_header(path: Path) -> tuple[JournalHeader, int] | None:
    """A journal's header and the offset where its records start, or None if unreadable."""
    with open(path, "rb") as handle:
        first = handle.readline()
    if not first.endswith(b"\n"):
        return None
    try:
        data = orjson.loads(first)
        header = JournalHeader(
            str(data["journal_id"]), str(data["store"]), str(data["source"]), int(data["pid"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    return header, len(first)


def read_lines(path: Path, offset: int) -> list[tuple[bytes, int]]:
    """Complete lines after `offset`, each with the journal offset just after it."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    lines = []
    position = 0
    while (end := data.find(b"\n", position)) >= 0:  # a torn last line was never acknowledged
        lines.append((data[position : end + 1], offset + end + 1))
        position = end + 1
    return lines


def read_range(path: Path, start: int, end: int) -> list[memoryview]:
    """The complete lines between offsets `start` and `end` (both at line boundaries), as
    views of one buffer: copying each line cost as much as parsing a 100-row record."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    view = memoryview(data)
    lines = []
    position = 0
    while (stop := data.find(b"\n", position)) >= 0:
        lines.append(view[position : stop + 1])
        position = stop + 1
    if position < len(data):
        lines.append(view[position:])
    return lines


def orphaned_journals(folder: Path) -> Iterator[Path]:
    """Prediction journals whose writer is gone (see `loopml.store.journal`)."""
    return locked_orphans(folder, SUFFIX)
