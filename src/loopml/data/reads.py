"""Which dataset versions a piece of code resolved while it ran.

A pipeline step that calls `load_dataset("bikes")` depends on whatever `bikes` meant at the
time. The step runner opens `recording_reads()` around the step; `DatasetService.get`
notes every reference it resolves, so the cache can tell later whether the name still
means the same content, and the step run can list the versions among its inputs.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DatasetRead:
    """One resolution: the reference as written, the version it meant, and whether it was
    pinned (`bikes@3`, an id: always the same content) or floating (`bikes`, `@latest`)."""

    ref: str
    version_id: str
    uri: str
    content_hash: str
    pinned: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetRead:
        return cls(
            str(data["ref"]),
            str(data["version_id"]),
            str(data["uri"]),
            str(data["content_hash"]),
            bool(data["pinned"]),
        )


_reads: contextvars.ContextVar[list[DatasetRead] | None] = contextvars.ContextVar(
    "loopml_dataset_reads", default=None
)


@contextmanager
def recording_reads() -> Iterator[list[DatasetRead]]:
    """Collect the dataset references resolved inside the block (in this context only)."""
    found: list[DatasetRead] = []
    token = _reads.set(found)
    try:
        yield found
    finally:
        _reads.reset(token)


def note_read(read: DatasetRead) -> None:
    """Called by the dataset service on each resolution; a no-op outside `recording_reads`."""
    found = _reads.get()
    if found is not None and read not in found:
        found.append(read)
