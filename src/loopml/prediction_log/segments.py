"""Batches to Parquet segments in the artifact store, registered in one transaction."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from loopml.prediction_log.journal import committed_offset, segment_id, segment_id_pattern
from loopml.prediction_log.tables import EVENT_TIME, Batch, Key
from loopml.store import Stores, dialect_insert, record_artifact
from loopml.store.schema import log_segments

MEDIA_TYPE = "application/vnd.apache.parquet"


def write_segments(
    stores: Stores,
    batches: dict[Key, Batch],
    *,
    journal_id: str,
    end_offset: int,
    source: str,
) -> int:
    """Store one Parquet file per batch and register them all; returns the rows written.

    The segment ids are derived from the journal and the offset this flush ends at, so
    writing the same flush twice (a retry after an ambiguous commit, a replay after a
    crash) inserts nothing new.
    """
    if not batches:
        return 0
    rows = []
    refs = []
    with tempfile.TemporaryDirectory(prefix="loopml-plog-") as tmp:
        for n, (key, batch) in enumerate(sorted(batches.items())):
            deployment, kind, day = key
            table = batch.to_table()
            path = Path(tmp) / f"{n}.parquet"
            pq.write_table(table, path, compression="zstd")
            refs.append(stores.artifacts.put_file(path))
            os.unlink(path)
            times = table.column("time").to_pylist()
            events = _event_times(table, times)
            rows.append(
                {
                    "id": segment_id(journal_id, end_offset, n),
                    "deployment": deployment,
                    "kind": kind,
                    "day": day,
                    "digest": refs[-1].digest,
                    "rows": table.num_rows,
                    "min_time": min(times),
                    "max_time": max(times),
                    "min_event_time": min(events),
                    "max_event_time": max(events),
                    "source": source,
                    "created_at": time.time(),
                }
            )
    insert = dialect_insert(stores.engine)
    with stores.engine.begin() as conn:
        for ref in refs:
            record_artifact(conn, stores.engine, ref, MEDIA_TYPE)
        conn.execute(insert(log_segments).on_conflict_do_nothing(index_elements=["id"]), rows)
    return sum(int(row["rows"]) for row in rows)


def _event_times(table: pa.Table, times: list[float]) -> list[float]:
    """Each row's event time, its arrival time where it has none."""
    if EVENT_TIME not in table.column_names:
        return times
    events = table.column(EVENT_TIME).to_pylist()
    return [t if e is None else e for e, t in zip(events, times, strict=True)]


def journal_progress(stores: Stores, journal_id: str) -> int:
    """The journal offset up to which a journal's records are in committed segments."""
    with stores.engine.connect() as conn:
        ids = conn.execute(
            select(log_segments.c.id).where(log_segments.c.id.like(segment_id_pattern(journal_id)))
        ).scalars()
        return committed_offset(list(ids))
