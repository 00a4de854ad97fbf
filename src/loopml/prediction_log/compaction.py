"""Compaction: a deployment's many small per-flush segments become one per time partition.

Each flush writes a segment per deployment, kind and day: a busy deployment flushing every
second leaves 3,600 small files an hour, and a one-hour window query would open them all.
Compaction rewrites the segments of each closed partition (an hour by default) into one
Parquet file sorted by time, so a window reads one or two files, found through the segments'
time ranges. Feedback, which a window reads from its start up to now, is compacted into one
segment per day once the day has ended.

Nothing acknowledged is lost or doubled, wherever the process dies:

1. the rows of the partitions' segments are written to new blobs (DuckDB, streaming) and
   counted: the counts must equal the inputs', or nothing is registered;
2. one transaction deletes the input segments' rows — all of them or, if another compactor
   got there first, none — registers the outputs and retires the inputs' blobs.

Dying before the commit leaves unreferenced blobs and the inputs as they were; dying after
it leaves the outputs. Journal progress lives in `log_journals`, not in the segments, so
replacing segments never makes a journal replay twice. Retired blobs are deleted by a later
compaction once `retire_grace_s` has passed (a query that listed the old segments just
before the commit may still be reading them). Every segment's Parquet footer names the
segment, so no other record shares a segment's bytes (and so its blob).
"""

from __future__ import annotations

import math
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from loopml.errors import LoopmlError, ValidationError
from loopml.governance import require
from loopml.prediction_log.segments import MEDIA_TYPE, SEGMENT_TAG
from loopml.prediction_log.tables import EVENT_TIME, FEEDBACK_KIND, day_of
from loopml.store import Stores, dialect_insert, record_artifact
from loopml.store.schema import artifacts, log_retired_blobs, log_segments

PARTITION_S = 3_600  # one output segment per hour of rows
MIN_AGE_S = 300.0  # a partition is compacted once it ended this long ago
RETIRE_GRACE_S = 600.0  # replaced blobs are deleted this long after their replacement
_DAY = 86_400
_IDS_PER_STATEMENT = 500
COMPACTED_PREFIX = "lcmp-"


@dataclass(frozen=True)
class CompactionReport:
    """What one compaction did."""

    partitions: int = 0  # partitions rewritten
    segments_in: int = 0  # segments replaced
    segments_out: int = 0  # segments written
    rows: int = 0  # rows rewritten
    blobs_removed: int = 0  # retired blobs deleted
    skipped: int = 0  # units another compactor rewrote first

    def __add__(self, other: CompactionReport) -> CompactionReport:
        return CompactionReport(
            *(a + b for a, b in zip(_fields(self), _fields(other), strict=True))
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _fields(report: CompactionReport) -> tuple[int, ...]:
    return tuple(asdict(report).values())


@dataclass(frozen=True)
class StoredSegment:
    """The facts of a segment that compaction plans with."""

    id: str
    digest: str
    rows: int
    min_time: float
    max_time: float


@dataclass(frozen=True)
class _Output:
    id: str
    path: Path
    rows: int
    min_time: float
    max_time: float
    min_event_time: float  # the event-time span (arrival time where a row has none)
    max_event_time: float


class _Raced(Exception):
    """Another compactor replaced some of the inputs first."""


def compact(
    stores: Stores,
    deployment: str | None = None,
    *,
    partition_s: int = PARTITION_S,
    min_age_s: float = MIN_AGE_S,
    retire_grace_s: float = RETIRE_GRACE_S,
    now: float | None = None,
) -> CompactionReport:
    """Compact the closed partitions of one deployment's log (or of every deployment), and
    delete the blobs compaction retired at least `retire_grace_s` ago."""
    require(stores.actor, "write", "compact prediction logs")
    _check(partition_s, min_age_s, retire_grace_s)
    now = time.time() if now is None else now
    report = CompactionReport(blobs_removed=remove_retired(stores, now - retire_grace_s))
    closed_before = now - min_age_s
    for name, kind in _logs(stores, deployment):
        for day in _days(stores, name, kind):
            # Feedback is read from a window's start up to now: once its day has ended, it
            # becomes one segment, so a window opens a file per day rather than per hour.
            ended = _day_start(day) + _DAY <= closed_before
            span = _DAY if kind == FEEDBACK_KIND and ended else partition_s
            segments = _segments(stores, name, kind, day)
            for unit, inputs in plan_units(segments, span, closed_before):
                report += _compact_unit(stores, name, kind, unit, inputs, span, now)
    return report


def _day_start(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def _check(partition_s: Any, min_age_s: Any, retire_grace_s: Any) -> None:
    if (
        isinstance(partition_s, bool)
        or not isinstance(partition_s, int)
        or not 60 <= partition_s <= _DAY
        or _DAY % partition_s
    ):
        raise ValidationError(
            f"partition_s must be a whole number of seconds from 60 to 86400 that divides a "
            f"day (3600: an hour), got {partition_s!r}"
        )
    for name, value in (("min_age_s", min_age_s), ("retire_grace_s", retire_grace_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValidationError(f"{name} must be a number of seconds >= 0, got {value!r}")


def _logs(stores: Stores, deployment: str | None) -> list[tuple[str, str]]:
    query = select(log_segments.c.deployment, log_segments.c.kind).distinct()
    if deployment is not None:
        query = query.where(log_segments.c.deployment == deployment)
    with stores.engine.connect() as conn:
        return sorted((str(d), str(k)) for d, k in conn.execute(query))


def _days(stores: Stores, deployment: str, kind: str) -> list[str]:
    query = (
        select(log_segments.c.day)
        .where(log_segments.c.deployment == deployment, log_segments.c.kind == kind)
        .distinct()
    )
    with stores.engine.connect() as conn:
        return sorted(str(day) for day in conn.execute(query).scalars())


def _segments(stores: Stores, deployment: str, kind: str, day: str) -> list[StoredSegment]:
    c = log_segments.c
    query = select(c.id, c.digest, c.rows, c.min_time, c.max_time).where(
        c.deployment == deployment, c.kind == kind, c.day == day
    )
    with stores.engine.connect() as conn:
        return [
            StoredSegment(str(i), str(d), int(r), float(lo), float(hi))
            for i, d, r, lo, hi in conn.execute(query)
        ]


def plan_units(
    segments: Sequence[StoredSegment], partition_s: int, closed_before: float
) -> Iterator[tuple[list[int], list[StoredSegment]]]:
    """Groups of partitions to rewrite together, with their input segments.

    A partition needs rewriting when more than one segment holds its rows, or when a
    segment holding them spans other partitions too (it is split). Partitions linked by such
    a segment are rewritten in one transaction, since the segment is replaced once. A group
    waits while any of its partitions is still open (ends after `closed_before`).
    """
    by_partition: dict[int, list[StoredSegment]] = {}
    for segment in segments:
        for p in _partitions(segment, partition_s):
            by_partition.setdefault(p, []).append(segment)

    def needs_work(p: int) -> bool:
        held = by_partition[p]
        return len(held) > 1 or any(len(_partitions(s, partition_s)) > 1 for s in held)

    seen: set[int] = set()
    for start in sorted(p for p in by_partition if needs_work(p)):
        if start in seen:
            continue
        unit, stack = {start}, [start]
        while stack:
            for segment in by_partition[stack.pop()]:
                for p in _partitions(segment, partition_s):
                    if p not in unit:
                        unit.add(p)
                        stack.append(p)
        seen |= unit
        if max(unit) * partition_s + partition_s > closed_before:
            continue  # still filling: wait
        inputs = {s.id: s for p in unit for s in by_partition[p]}
        yield sorted(unit), sorted(inputs.values(), key=lambda s: s.id)


def _partitions(segment: StoredSegment, partition_s: int) -> range:
    first = math.floor(segment.min_time / partition_s)
    return range(first, math.floor(segment.max_time / partition_s) + 1)


def _compact_unit(
    stores: Stores,
    deployment: str,
    kind: str,
    unit: list[int],
    inputs: list[StoredSegment],
    partition_s: int,
    now: float,
) -> CompactionReport:
    with tempfile.TemporaryDirectory(prefix="loopml-compact-") as tmp:
        outputs = write_outputs(stores, inputs, unit, partition_s, Path(tmp))
        try:
            register(stores, deployment, kind, inputs, outputs, now)
        except _Raced:
            return CompactionReport(skipped=1)
    return CompactionReport(
        partitions=len(unit),
        segments_in=len(inputs),
        segments_out=len(outputs),
        rows=sum(o.rows for o in outputs),
    )


def write_outputs(
    stores: Stores, inputs: list[StoredSegment], unit: list[int], partition_s: int, folder: Path
) -> list[_Output]:
    """Step 1: one sorted Parquet file per partition of the unit, with every input row."""
    in_time = sorted(inputs, key=lambda s: (s.min_time, s.id))  # columns as the rows had them
    digests = list(dict.fromkeys(s.digest for s in in_time))
    expected = sum({s.digest: s.rows for s in inputs}.values())  # a blob counts once
    files = [str(stores.artifacts.local_path(d)) for d in digests]
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    outputs = []
    with duckdb.connect() as conn:
        conn.execute(
            f"CREATE VIEW src AS SELECT * FROM read_parquet([{listed}], union_by_name = true)"
        )
        names = {row[0] for row in conn.execute("DESCRIBE src").fetchall()}
        event = f"coalesce({EVENT_TIME}::DOUBLE, time)" if EVENT_TIME in names else "time"
        for p in unit:
            path = folder / f"{p}.parquet"
            start, end = float(p * partition_s), float((p + 1) * partition_s)
            tag = f"{COMPACTED_PREFIX}{uuid.uuid4().hex}"
            conn.execute(
                f"COPY (SELECT * FROM src WHERE time >= {start!r} AND time < {end!r} "
                f"ORDER BY time, request_id, row) TO '{path}' "
                f"(FORMAT parquet, COMPRESSION zstd, KV_METADATA {{'{SEGMENT_TAG}': '{tag}'}})"
            )
            found = conn.execute(
                f"SELECT count(*), min(time), max(time), min({event}), max({event}) "
                f"FROM read_parquet('{path}')"
            ).fetchone()
            if found is not None and found[0]:
                rows, low, high = int(found[0]), float(found[1]), float(found[2])
                span = (float(found[3]), float(found[4]))
                outputs.append(_Output(tag, path, rows, low, high, *span))
    written = sum(o.rows for o in outputs)
    if written != expected:
        raise LoopmlError(
            f"compaction read {written:,} rows from segments that hold {expected:,}; nothing "
            "was replaced (a segment's rows fall outside its recorded time range)"
        )
    return outputs


def register(
    stores: Stores,
    deployment: str,
    kind: str,
    inputs: list[StoredSegment],
    outputs: list[_Output],
    now: float,
) -> None:
    """Step 2: store the outputs' blobs, then swap the segments in one transaction."""
    refs = [stores.artifacts.put_file(o.path) for o in outputs]
    rows = [
        {
            "id": o.id,
            "deployment": deployment,
            "kind": kind,
            "day": day_of(o.min_time),
            "digest": ref.digest,
            "rows": o.rows,
            "min_time": o.min_time,
            "max_time": o.max_time,
            "min_event_time": o.min_event_time,
            "max_event_time": o.max_event_time,
            "source": "compaction",
            "created_at": now,
        }
        for o, ref in zip(outputs, refs, strict=True)
    ]
    kept = {ref.digest for ref in refs}
    retired = sorted({s.digest for s in inputs} - kept)
    ids = [s.id for s in inputs]
    insert = dialect_insert(stores.engine)
    with stores.engine.begin() as conn:
        deleted = 0
        for first in range(0, len(ids), _IDS_PER_STATEMENT):
            chunk = ids[first : first + _IDS_PER_STATEMENT]
            deleted += conn.execute(
                delete(log_segments).where(log_segments.c.id.in_(chunk))
            ).rowcount
        if deleted != len(ids):
            raise _Raced()  # rolls the transaction back: the other compactor's rows stand
        for ref in refs:
            record_artifact(conn, stores.engine, ref, MEDIA_TYPE)
        if rows:
            conn.execute(log_segments.insert(), rows)
        if retired:
            conn.execute(
                insert(log_retired_blobs).on_conflict_do_nothing(index_elements=["digest"]),
                [{"digest": d, "retired_at": now} for d in retired],
            )


def remove_retired(stores: Stores, before: float) -> int:
    """Delete the retired blobs (and their `artifacts` rows) retired before `before` that
    no segment uses; returns how many were deleted."""
    with stores.engine.connect() as conn:
        due = list(
            conn.execute(
                select(log_retired_blobs.c.digest).where(log_retired_blobs.c.retired_at < before)
            ).scalars()
        )
    removed = 0
    for digest in due:
        with stores.engine.begin() as conn:
            conn.execute(delete(log_retired_blobs).where(log_retired_blobs.c.digest == digest))
            used = conn.execute(
                select(log_segments.c.id).where(log_segments.c.digest == digest).limit(1)
            ).first()
            if used is not None:
                continue
            try:
                with conn.begin_nested():  # another record may still refer to the blob
                    conn.execute(delete(artifacts).where(artifacts.c.digest == digest))
            except IntegrityError:
                continue
        stores.artifacts.remove(digest)  # after the commit: a crash leaves a stray file
        removed += 1
    return removed
