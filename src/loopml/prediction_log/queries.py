"""DuckDB over verified local copies of a deployment's segments.

The view `prediction_log` holds every logged row, failed requests included (`status` >= 400,
one row each, no inputs or outputs); `predictions` holds only the answered rows and no
`status` column, so everything that reads predictions ignores failures without a filter.

Rows whose client said when the event happened have an `event_time` (the column exists
once some segment has one). On the `event` time basis every view has the column, the
prediction views' `time` is the event time (the arrival time where there is none) and
`arrival_time` keeps the arrival, so a query cut on `time` — a monitor's window — sees a
backfill in the period it describes rather than the day it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import ColumnElement, func, select

from loopml.errors import ValidationError
from loopml.prediction_log.tables import EVENT_TIME, FEEDBACK_KIND, PREDICTIONS
from loopml.store import Stores
from loopml.store.schema import log_segments

PREDICTION_LOG = "prediction_log"
TIME_BASES = ("arrival", "event")
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


def check_time_basis(basis: str) -> str:
    if basis not in TIME_BASES:
        raise ValidationError(
            f"time basis {basis!r} is unknown: use arrival (when requests reached the server) "
            "or event (the event time clients sent, the arrival time where they sent none)"
        )
    return basis


def segment_files(
    stores: Stores,
    deployment: str,
    kind: str,
    since: float | None = None,
    until: float | None = None,
    *,
    time_basis: str = "arrival",
) -> list[str]:
    """Local, hash-verified paths of the segments that may hold rows in [since, until) of
    arrival time, or of event time on the `event` basis.

    A segment never spans more than one UTC day of arrival time (flushes are split by day,
    compacted segments by partition), so on the arrival basis the segments reaching `since`
    start at most a day before it: that bound lets the (deployment, kind, min_time) index
    serve the lookup. Event times have no such bound (a backfill may describe any period).
    """
    query = select(log_segments.c.digest).where(
        log_segments.c.deployment == deployment, log_segments.c.kind == kind
    )
    low: ColumnElement[Any] = log_segments.c.min_time
    high: ColumnElement[Any] = log_segments.c.max_time
    if check_time_basis(time_basis) == "event":
        low = func.coalesce(log_segments.c.min_event_time, low)
        high = func.coalesce(log_segments.c.max_event_time, high)
    if since is not None:
        if time_basis == "event":
            query = query.where(high >= since)
        else:
            query = query.where(high >= since, low >= since - SEGMENT_SPAN_S)
    if until is not None:
        query = query.where(low < until)
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
    time_basis: str = "arrival",
    feedback: bool = True,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views `prediction_log`, `predictions` and `feedback` of one
    deployment (see the module docstring), over the segments that may hold rows in
    [since, until); with `since`, `feedback` holds the labels recorded from
    `LABEL_CLOCK_SKEW_S` before it on. Without `feedback` there is no `feedback` view (and
    no feedback segment is opened)."""
    conn = duckdb.connect()
    for kind in (PREDICTIONS, FEEDBACK_KIND) if feedback else (PREDICTIONS,):
        if kind == PREDICTIONS:
            files = segment_files(stores, deployment, kind, since, until, time_basis=time_basis)
        else:
            # Labels come after their predictions, whatever the predictions' event time:
            # those recorded (arrival time) before the window are skipped.
            label_since = None if since is None else since - LABEL_CLOCK_SKEW_S
            files = segment_files(stores, deployment, kind, label_since, None)
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            source = f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
        else:
            source = f"SELECT {EMPTY[kind]} WHERE false"
        if time_basis == "event":
            source = _with_event_time(conn, source)
        if kind == PREDICTIONS:
            _create_prediction_views(conn, source, time_basis)
        else:
            conn.execute(f"CREATE VIEW {kind} AS {source}")
    return conn


def _with_event_time(conn: duckdb.DuckDBPyConnection, source: str) -> str:
    """`source` with an `event_time` column (null everywhere when no segment has one)."""
    names = {row[0] for row in conn.execute(f"DESCRIBE {source}").fetchall()}
    if EVENT_TIME in names:
        return f"SELECT * REPLACE ({EVENT_TIME}::DOUBLE AS {EVENT_TIME}) FROM ({source})"
    return f"SELECT *, NULL::DOUBLE AS {EVENT_TIME} FROM ({source})"


def _create_prediction_views(conn: duckdb.DuckDBPyConnection, source: str, basis: str) -> None:
    # Segments written before failed requests were logged have no `status`: all were 200.
    names = {row[0] for row in conn.execute(f"DESCRIBE {source}").fetchall()}
    if "status" in names:
        logged = f"SELECT * REPLACE (coalesce(status, 200)::INTEGER AS status) FROM ({source})"
    else:
        logged = f"SELECT *, 200::INTEGER AS status FROM ({source})"
    if basis == "event":
        logged = (
            f"SELECT * REPLACE (coalesce({EVENT_TIME}, time) AS time), time AS arrival_time "
            f"FROM ({logged})"
        )
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
    time_basis: str = "arrival",
) -> pd.DataFrame:
    with connect(stores, deployment, since, until, time_basis=time_basis, feedback=False) as conn:
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
