"""Append-only local journals that survive `kill -9` of their writer.

A writer appends complete lines with `write(2)` before it acknowledges anything, so the
data is in the kernel's page cache when the process dies. It holds an `flock` on its
journal for its whole life: a journal that another process can lock belongs to a dead
writer and may be replayed. Metric tracking and the prediction log both build on this.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path


class LockedJournal:
    """The writer side: opened (and locked) once, header first, then appended to."""

    def __init__(self, path: Path, header: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        if os.fstat(self.fd).st_size == 0:
            os.write(self.fd, header)
        self.start = os.fstat(self.fd).st_size  # where the records begin
        self.offset = self.start

    def append(self, data: bytes) -> int:
        """Append complete lines; returns the journal size after them."""
        written = os.write(self.fd, data)
        while written < len(data):  # short writes only happen on a full or failing disk
            try:
                written += os.write(self.fd, data[written:])
            except OSError:
                self.offset = os.fstat(self.fd).st_size
                with suppress(OSError):  # end the torn line so the next one stays readable
                    os.write(self.fd, b"\n")
                    self.offset += 1
                raise
        self.offset += written
        return self.offset

    def close(self, *, remove: bool) -> None:
        """Release the journal; `remove` deletes it (everything in it is committed)."""
        if self.fd < 0:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = -1


def orphaned_journals(folder: Path, suffix: str) -> Iterator[Path]:
    """Journals whose writer is gone, each yielded while this process holds its lock."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{suffix}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive (or another process is replaying it)
            if path.exists():  # not removed by its writer between the glob and the lock
                yield path
        finally:
            os.close(fd)
