"""DuckDB over verified local copies of a deployment's segments.

The view `prediction_log` holds every logged row, failed requests included (`status` >= 400,
one row each, no inputs or outputs); `predictions` holds only the answered rows and no
`status` column, so everything that reads predictions ignores failures without a filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd
from sqlalchemy import select

from loopml.prediction_log.tables import FEEDBACK_KIND, PREDICTIONS
from loopml.store import Stores
from loopml.store.schema import log_segments

PREDICTION_LOG = "prediction_log"
ROW_ORDER = "time, request_id, shadow, model, row"  # unique per prediction row
SEGMENT_SPAN_S = 86_400.0  # no segment spans more than one UTC day
# Window queries read the labels recorded from this long before the window on: a label
# follows its prediction, and this absorbs clocks that disagree between replicas.
LABEL_CLOCK_SKEW_S = 3_600.0
OK_BELOW = 400  # statuses from here on are failed requests
EMPTY = {
    PREDICTIONS: (
        "NULL::VARCHAR AS request_id, NULL::DOUBLE AS time, NULL::VARCHAR AS deployment, "
        "NULL::VARCHAR AS model, NULL::BOOLEAN AS shadow, NULL::DOUBLE AS latency_ms, "
        "NULL::INTEGER AS status, NULL::BIGINT AS row, NULL::VARCHAR AS prediction"
    ),
    FEEDBACK_KIND: (
        "NULL::VARCHAR AS request_id, NULL::DOUBLE AS time, NULL::VARCHAR AS deployment, "
        "NULL::BIGINT AS row, NULL::VARCHAR AS label, NULL::BIGINT AS version"
    ),
}


@dataclass(frozen=True)
class Answered:
    """An answered request as the log holds it: its model, its rows, its labels so far."""

    model: str
    rows: int
    labels: int


# The latest label for each prediction row: a row-level label, or a request-level one (row
# NULL) that applies to every row; on equal times the row-level label wins. `{join}` is
# JOIN (labelled rows only) or LEFT JOIN (every row, the label NULL until feedback comes).
_LATEST_LABEL = """
SELECT p.*, f.label, f.time AS label_time
FROM ({predictions}) AS p
{join} feedback AS f ON f.request_id = p.request_id AND (f.row IS NULL OR f.row = p.row)
QUALIFY row_number() OVER (
    PARTITION BY p.request_id, p.row, p.model, p.shadow
    ORDER BY f.time DESC NULLS LAST, f.row IS NULL
) = 1
ORDER BY p.time, p.request_id, p.shadow, p.model, p.row
"""


def with_latest_label(predictions: str, *, keep_unlabelled: bool = False) -> str:
    """SQL adding `label` and `label_time` to the rows the `predictions` query selects."""
    join = "LEFT JOIN" if keep_unlabelled else "JOIN"
    return _LATEST_LABEL.format(predictions=predictions, join=join)


def segment_files(
    stores: Stores,
    deployment: str,
    kind: str,
    since: float | None = None,
    until: float | None = None,
) -> list[str]:
    """Local, hash-verified paths of the segments that may hold rows in [since, until).

    A segment never spans more than one UTC day (flushes are split by day, compacted
    segments by partition), so the segments reaching `since` start at most a day before it:
    that bound lets the (deployment, kind, min_time) index serve the lookup.
    """
    query = select(log_segments.c.digest).where(
        log_segments.c.deployment == deployment, log_segments.c.kind == kind
    )
    if since is not None:
        query = query.where(
            log_segments.c.max_time >= since, log_segments.c.min_time >= since - SEGMENT_SPAN_S
        )
    if until is not None:
        query = query.where(log_segments.c.min_time < until)
    # In time order: the columns a window shows come in the order the rows first had them,
    # whichever segments (per flush, or compacted) hold the rows.
    query = query.order_by(log_segments.c.min_time, log_segments.c.id)
    with stores.engine.connect() as conn:
        digests = list(dict.fromkeys(conn.execute(query).scalars()))
    return [str(stores.artifacts.local_path(digest)) for digest in digests]


def connect(
    stores: Stores,
    deployment: str,
    since: float | None = None,
    until: float | None = None,
    *,
    feedback: bool = True,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views `prediction_log`, `predictions` and `feedback` of one
    deployment (see the module docstring), over the segments that may hold rows in
    [since, until); with `since`, `feedback` holds the labels recorded from
    `LABEL_CLOCK_SKEW_S` before it on. Without `feedback` there is no `feedback` view (and
    no feedback segment is opened)."""
    conn = duckdb.connect()
    for kind in (PREDICTIONS, FEEDBACK_KIND) if feedback else (PREDICTIONS,):
        # labels come after their predictions: those recorded before the window are skipped
        label_since = None if since is None else since - LABEL_CLOCK_SKEW_S
        window = (since, until) if kind == PREDICTIONS else (label_since, None)
        files = segment_files(stores, deployment, kind, *window)
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            source = f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
        else:
            source = f"SELECT {EMPTY[kind]} WHERE false"
        if kind == PREDICTIONS:
            _create_prediction_views(conn, source)
        else:
            conn.execute(f"CREATE VIEW {kind} AS {source}")
    return conn


def _create_prediction_views(conn: duckdb.DuckDBPyConnection, source: str) -> None:
    # Segments written before failed requests were logged have no `status`: all were 200.
    names = {row[0] for row in conn.execute(f"DESCRIBE {source}").fetchall()}
    if "status" in names:
        logged = f"SELECT * REPLACE (coalesce(status, 200)::INTEGER AS status) FROM ({source})"
    else:
        logged = f"SELECT *, 200::INTEGER AS status FROM ({source})"
    conn.execute(f"CREATE VIEW {PREDICTION_LOG} AS {logged}")
    conn.execute(
        f"CREATE VIEW {PREDICTIONS} AS SELECT * EXCLUDE (status) FROM {PREDICTION_LOG} "
        f"WHERE status < {OK_BELOW}"
    )


def window_filter(since: float | None, until: float | None, include_shadow: bool) -> str:
    clauses = ["true"]
    if since is not None:
        clauses.append(f"time >= {float(since)!r}")
    if until is not None:
        clauses.append(f"time < {float(until)!r}")
    if not include_shadow:
        clauses.append("NOT shadow")
    return " AND ".join(clauses)


def predictions_frame(
    stores: Stores,
    deployment: str,
    *,
    since: float | None,
    until: float | None,
    include_shadow: bool,
) -> pd.DataFrame:
    with connect(stores, deployment, since, until, feedback=False) as conn:
        sql = (
            f"SELECT * FROM predictions WHERE {window_filter(since, until, include_shadow)} "
            f"ORDER BY {ROW_ORDER}"
        )
        return ordered_columns(conn.execute(sql).df())


def feedback_frame(stores: Stores, deployment: str) -> pd.DataFrame:
    with connect(stores, deployment) as conn:
        return ordered_columns(
            conn.execute("SELECT * FROM feedback ORDER BY time, request_id, row").df()
        )


def labelled_frame(
    stores: Stores,
    deployment: str,
    *,
    since: float | None,
    until: float | None,
    include_shadow: bool,
) -> pd.DataFrame:
    with connect(stores, deployment, since, until) as conn:
        inner = f"SELECT * FROM predictions WHERE {window_filter(since, until, include_shadow)}"
        frame = ordered_columns(conn.execute(with_latest_label(inner)).df())
    tail = ["label", "label_time"]
    return frame[[c for c in frame.columns if c not in tail] + tail]


def ordered_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Base columns, then `proba_<i>` in numeric order, then the inputs as first seen."""
    names = list(frame.columns)
    proba = sorted((n for n in names if n.startswith("proba_")), key=lambda n: int(n[6:]))
    rest = [n for n in names if n not in proba]
    first = [n for n in rest if not n.startswith("in_")]
    inputs = [n for n in rest if n.startswith("in_")]
    return frame[first + proba + inputs].reset_index(drop=True)


def answered(stores: Stores, deployment: str, request_id: str) -> Answered | None:
    """The answered (non-shadow) request `request_id` of `deployment`, from flushed segments."""
    with connect(stores, deployment) as conn:
        found = conn.execute(
            "SELECT model, count(*) FROM predictions WHERE request_id = ? AND NOT shadow "
            "GROUP BY model ORDER BY count(*) DESC LIMIT 1",
            [request_id],
        ).fetchone()
        if found is None:
            return None
        (labels,) = conn.execute(
            "SELECT count(DISTINCT time) FROM feedback WHERE request_id = ?", [request_id]
        ).fetchone() or (0,)
    return Answered(str(found[0]), int(found[1]), int(labels))
