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
from typing import Any

from sqlalchemy import Connection

from loopml.governance import append_event
from loopml.store.principal import Principal

# Per metric key: order-independent aggregates, so every backend computes the same digest.
_METRICS = (
    'SELECT "key", count(*), min(value), max(value), max(step) FROM metrics '
    'WHERE run_id = {mark} GROUP BY "key" ORDER BY "key"'
)
_ARTIFACTS = "SELECT path, digest FROM run_artifacts WHERE run_id = {mark} ORDER BY path"
_INPUTS = (
    "SELECT dataset_version_id, role FROM run_inputs WHERE run_id = {mark} "
    "ORDER BY dataset_version_id"
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


def summarize(
    conn: Connection,
    run_id: str,
    key_values: str,
    metrics: list[list[Any]] | None = None,
) -> dict[str, Any]:
    """Counts and digest of a run; `key_values` is its document (key_values.build) and
    `metrics` its `metric_rows` when already read."""
    metric_rows_ = metric_rows(conn, run_id) if metrics is None else metrics
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_ARTIFACTS.format(mark=mark), (run_id,))
        artifact_rows = [[str(p), str(d)] for p, d in cursor.fetchall()]
        cursor.execute(_INPUTS.format(mark=mark), (run_id,))
        input_rows = [[str(d), str(r)] for d, r in cursor.fetchall()]
    finally:
        cursor.close()
    document = json.loads(key_values)
    body = json.dumps(
        [document, metric_rows_, artifact_rows, input_rows],
        sort_keys=True,
        separators=(",", ":"),
    )
    return {
        "params": len(document.get("params", {})),
        "tags": len(document.get("tags", {})),
        "metrics": len(metric_rows_),
        "metric_points": sum(row[1] for row in metric_rows_),
        "artifacts": len(artifact_rows),
        "inputs": len(input_rows),
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
