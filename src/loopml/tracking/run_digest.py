"""What a run recorded, summed up for the audit trail: counts and one digest.

A live run writes params, metric points, tags, inputs and artifacts far too often for one
audit event each (logging speed is a feature), so the event that ends a run carries the
totals and a SHA-256 over all of it; `summarize` can be run again later and compared.
Writes to a run that has already ended get their own events (`run.update`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from loopml.governance import append_event
from loopml.store.principal import Principal
from loopml.tracking.key_values import document, dump_sorted, lock_run

_DIGEST_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
# Per metric key: order-independent aggregates, so every backend computes the same digest.
_METRICS = (
    'SELECT "key", count(*), min(value), max(value), max(step) FROM metrics '
    'WHERE run_id = {mark} GROUP BY "key" ORDER BY "key"'
)


def metric_rows(conn: Connection, run_id: str) -> list[list[Any]]:
    """[key, points, min, max, last step] per metric key of a run, by key."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_METRICS.format(mark=mark), (run_id,))
        return [
            [str(k), int(n), float(lo), float(hi), int(s)] for k, n, lo, hi, s in cursor.fetchall()
        ]
    finally:
        cursor.close()


@dataclass(frozen=True)
class RunContents:
    """What a run recorded, read in one query: its key-value document (key_values.py) and
    that document's text, [key, points, min, max, last step] per metric key, [path,
    digest] per artifact and [dataset version, role] per input, each list sorted."""

    document: Mapping[str, Any]
    key_values: str
    metrics: list[list[Any]]
    artifacts: list[list[str]]
    inputs: list[list[str]]
    sorted_document: str = ""  # the document's text with its keys sorted, when known


# One round trip for everything a run's end writes or digests (a hot path: every run ends
# through it). Sections: p(aram), m(etric latest value), t(ag), s(eries aggregate),
# a(rtifact), i(nput). Typed NULLs, so PostgreSQL can match the columns of the branches.
_CONTENTS = (
    "SELECT 'p', \"key\", value, CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION),"
    " CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) FROM params WHERE run_id = {mark}"
    " UNION ALL SELECT 'm', \"key\", NULL, value, NULL, NULL, NULL FROM latest_metrics"
    " WHERE run_id = {mark}"
    " UNION ALL SELECT 't', \"key\", value, NULL, NULL, NULL, NULL FROM tags WHERE run_id = {mark}"
    " UNION ALL SELECT 's', \"key\", NULL, min(value), max(value), count(*), max(step)"
    ' FROM metrics WHERE run_id = {mark} GROUP BY "key"'
    " UNION ALL SELECT 'a', path, digest, NULL, NULL, NULL, NULL FROM run_artifacts"
    " WHERE run_id = {mark}"
    " UNION ALL SELECT 'i', dataset_version_id, role, NULL, NULL, NULL, NULL FROM run_inputs"
    " WHERE run_id = {mark}"
)


# by parameter mark: built once (every run's end runs it)
_CONTENTS_BY_MARK = {mark: _CONTENTS.format(mark=mark) for mark in ("?", "%s")}


def read_contents(conn: Connection, run_id: str) -> RunContents:
    """The run's contents as the caller's write transaction sees them (the run row is held
    first, as key_values.build does)."""
    sql = _CONTENTS_BY_MARK["?" if conn.dialect.paramstyle == "qmark" else "%s"]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        lock_run(conn, cursor, run_id)
        cursor.execute(sql, (run_id,) * 6)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values: list[Any] = []
    series: list[list[Any]] = []
    artifacts: list[list[str]] = []
    inputs: list[list[str]] = []
    for kind, key, text, number, high, count, step in rows:
        if kind == "s":
            series.append([str(key), int(count), float(number), float(high), int(step)])
        elif kind == "a":
            artifacts.append([str(key), str(text)])
        elif kind == "i":
            inputs.append([str(key), str(text)])
        else:
            values.append((kind, key, text, number))
    # Sorted here rather than in SQL: code-point order on every backend and collation.
    series.sort()
    artifacts.sort()
    inputs.sort()
    found = document(values)
    stored, ordered = dump_sorted(found)
    return RunContents(found, stored, series, artifacts, inputs, ordered)


def summarize(contents: RunContents) -> dict[str, Any]:
    """Counts and digest of a run's contents (`read_contents`)."""
    document_ = contents.document
    if contents.sorted_document:  # the same text, without encoding the document again
        rest = _DIGEST_ENCODER.encode([contents.metrics, contents.artifacts, contents.inputs])
        body = "[" + contents.sorted_document + "," + rest[1:]
    else:
        body = _DIGEST_ENCODER.encode(
            [document_, contents.metrics, contents.artifacts, contents.inputs]
        )
    return {
        "params": len(document_.get("params", {})),
        "tags": len(document_.get("tags", {})),
        "metrics": len(contents.metrics),
        "metric_points": sum(row[1] for row in contents.metrics),
        "artifacts": len(contents.artifacts),
        "inputs": len(contents.inputs),
        "digest": hashlib.sha256(body.encode()).hexdigest(),
    }


def audit_late_write(
    conn: Connection, actor: Principal, run_uri: str, **written: Sequence[Any]
) -> None:
    """A write to a run that has ended gets its own `run.update` event: the keys (or
    items) written, the number of metric points, and a digest of all of it."""
    details: dict[str, Any] = {
        kind: (
            len(rows)
            if kind == "metric_points"
            else sorted(str(row["key"] if isinstance(row, Mapping) else row) for row in rows)
        )
        for kind, rows in written.items()
        if rows
    }
    body = json.dumps(
        {kind: list(rows) for kind, rows in written.items()}, sort_keys=True, default=str
    )
    details["digest"] = hashlib.sha256(body.encode()).hexdigest()
    append_event(conn, actor, "run.update", run_uri, details)
