"""Batches to Parquet segments in the artifact store, registered in one transaction.

The transaction also moves the journal's committed offset (`log_journals`): that row, not
the segments, says how far a journal is stored, so compaction may replace the segments.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from loopml.prediction_log.journal import segment_id
from loopml.prediction_log.tables import EVENT_TIME, Batch, Key
from loopml.store import Stores, dialect_insert, record_artifact
from loopml.store.schema import log_journals, log_segments

MEDIA_TYPE = "application/vnd.apache.parquet"
SEGMENT_TAG = "loopml.segment"  # Parquet footer key: the id of the segment the file is


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
            sid = segment_id(journal_id, end_offset, n)
            # the footer names the segment: no other record shares its bytes (or blob)
            table = batch.to_table().replace_schema_metadata({SEGMENT_TAG: sid})
            path = Path(tmp) / f"{n}.parquet"
            pq.write_table(
                table, path, compression="zstd", use_dictionary=dictionary_columns(table)
            )
            refs.append(stores.artifacts.put_file(path))
            os.unlink(path)
            times = table.column("time").to_pylist()
            events = event_times(table, times)
            rows.append(
                {
                    "id": sid,
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
        if _committed(conn, journal_id, lock=True) >= end_offset:
            return 0  # a retry of a flush whose commit succeeded: already stored
        for ref in refs:
            record_artifact(conn, stores.engine, ref, MEDIA_TYPE)
        conn.execute(insert(log_segments).on_conflict_do_nothing(index_elements=["id"]), rows)
        progress = insert(log_journals).values(
            journal_id=journal_id, committed_offset=end_offset, updated_at=time.time()
        )
        conn.execute(
            progress.on_conflict_do_update(
                index_elements=["journal_id"],
                set_={
                    "committed_offset": progress.excluded.committed_offset,
                    "updated_at": progress.excluded.updated_at,
                },
            )
        )
    return sum(int(row["rows"]) for row in rows)


def dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding: all but floats. Measured features and probabilities
    rarely repeat, so their dictionaries overflow and are dropped again: a third of the
    write time spent on 100-row segments, and larger files."""
    return [f.name for f in table.schema if not pa.types.is_floating(f.type)]


def event_times(table: pa.Table, times: list[float]) -> list[float]:
    """Each row's event time, its arrival time where it has none."""
    if EVENT_TIME not in table.column_names:
        return times
    events = table.column(EVENT_TIME).to_pylist()
    return [t if e is None else e for e, t in zip(events, times, strict=True)]


def _committed(conn: Connection, journal_id: str, *, lock: bool = False) -> int:
    query = select(log_journals.c.committed_offset).where(log_journals.c.journal_id == journal_id)
    found = conn.execute(query.with_for_update() if lock else query).scalar()
    return 0 if found is None else int(found)


def journal_progress(stores: Stores, journal_id: str) -> int:
    """The journal offset up to which a journal's records are in committed segments."""
    with stores.engine.connect() as conn:
        return _committed(conn, journal_id)
