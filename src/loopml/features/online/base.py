"""The online store interface: the latest feature values per entity, written by
materialization and read on every request.

Contract, checked by one conformance suite over every backend:
- `write` upserts rows of one view; a row whose event time is older than the stored one for
  the same key is ignored (late rows never overwrite fresher values);
- `read` answers several views at once in one round trip to the store, in the order asked,
  with None for a key the view has no value for;
- values come back with the types they were written with (float, int, str, bool).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Key = tuple[Any, ...]
Row = tuple[Any, ...]


@dataclass(frozen=True)
class OnlineCapabilities:
    """What a backend offers, declared as data."""

    name: str
    shared: bool  # reachable from several processes and machines at once
    round_trips_per_read: int  # whatever the number of views


@dataclass(frozen=True)
class ViewLayout:
    """The columns one view keeps online: its keys' SQL-ish kinds and its typed features."""

    view: str
    integer_key: bool  # one integer join key (stored as the row id)
    features: tuple[tuple[str, str], ...]  # (name, dtype)


@dataclass(frozen=True)
class ViewRead:
    """One view of a read: which features, for which entity keys."""

    layout: ViewLayout
    features: tuple[str, ...]
    keys: Sequence[Key]


class OnlineStore(Protocol):
    capabilities: OnlineCapabilities

    def prepare(self, layout: ViewLayout) -> None:
        """Make room for the view's columns (idempotent; new features are added)."""

    def write(
        self,
        layout: ViewLayout,
        keys: Sequence[Key],
        timestamps: Sequence[float],
        rows: Sequence[Row],
    ) -> int:
        """Upsert rows (one value per feature of the layout, in order); returns rows written."""

    def read(self, reads: Sequence[ViewRead]) -> list[list[tuple[float, Row] | None]]:
        """For each view, for each key: (event time, values of the asked features) or None."""

    def count(self, view: str) -> int:
        """Entities the view has online."""

    def drop(self, view: str) -> None:
        """Forget every value of the view."""

    def close(self) -> None: ...


def key_text(key: Key) -> str:
    """One text form of an entity key, shared by every backend."""
    if len(key) == 1:
        return str(key[0])
    return "\x1f".join(str(part) for part in key)


def decode(dtype: str, value: Any) -> Any:
    """A stored text or number back to the feature's Python type."""
    if value is None:
        return None
    if dtype == "float64" or dtype == "timestamp":
        return float(value)
    if dtype == "int64":
        return int(value)
    if dtype == "bool":
        return value in (1, "1", b"1", True)
    return value.decode() if isinstance(value, bytes) else str(value)
