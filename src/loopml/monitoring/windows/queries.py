"""The rows a monitor needs from one window of a deployment's prediction log.

Each function takes a DuckDB connection with the views `prediction_log`, `predictions` and
`feedback`, as `loopml.prediction_log.queries.connect(stores, deployment, since, until)`
returns, and the window [since, until) in epoch seconds (None: unbounded). Shadow answers
are left out unless asked for: they never reached a client.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from loopml.monitoring.latency import latency
from loopml.monitoring.results import LatencyResult
from loopml.prediction_log.queries import PREDICTION_LOG, with_latest_label

# One row per request (answered or failed): its rows share one latency and one status.
REQUESTS = f"""
SELECT request_id, coalesce(model, '') AS model, shadow,
       any_value(latency_ms) AS latency_ms, max(status) AS status,
       count(*) AS rows, min(time) AS time
FROM {PREDICTION_LOG}
WHERE {{where}}
GROUP BY request_id, coalesce(model, ''), shadow
ORDER BY min(time), request_id
"""


def labelled_rows(
    conn: duckdb.DuckDBPyConnection,
    since: float | None,
    until: float | None,
    *,
    include_shadow: bool = False,
    model: str | None = None,
) -> pd.DataFrame:
    """Prediction rows of the window with `label` and `label_time` (null when unlabelled);
    `model` keeps one version's rows (e.g. "model:bikes/3") to compare a canary."""
    where, params = _where(since, until, include_shadow, model)
    sql = with_latest_label(f"SELECT * FROM predictions WHERE {where}", keep_unlabelled=True)
    frame = conn.execute(sql, params).df()
    return frame.reset_index(drop=True)


def request_rows(
    conn: duckdb.DuckDBPyConnection,
    since: float | None,
    until: float | None,
    *,
    include_shadow: bool = False,
) -> pd.DataFrame:
    """One row per request of the window: request_id, model, shadow, latency_ms, status,
    rows, time."""
    where, params = _where(since, until, include_shadow, None)
    return conn.execute(REQUESTS.format(where=where), params).df()


def latency_by_model(
    conn: duckdb.DuckDBPyConnection,
    since: float | None,
    until: float | None,
    *,
    include_shadow: bool = False,
) -> list[LatencyResult]:
    """Latency percentiles and error rate of the window: all models, then each version."""
    return latency(request_rows(conn, since, until, include_shadow=include_shadow))


def unseen_rows(conn: duckdb.DuckDBPyConnection, since: float | None, until: float | None) -> int:
    """Answered rows of the window that held a category the training data never held (as a
    deployment with unknown_categories=flag marks them)."""
    names = {row[0] for row in conn.execute("DESCRIBE predictions").fetchall()}
    if "unseen" not in names:
        return 0
    where, params = _where(since, until, False, None)
    row = conn.execute(
        f"SELECT count(*) FROM predictions WHERE {where} AND unseen IS NOT NULL", params
    ).fetchone()
    return int(row[0]) if row else 0


def _where(
    since: float | None, until: float | None, include_shadow: bool, model: str | None
) -> tuple[str, list[object]]:
    clauses: list[str] = ["true"]
    params: list[object] = []
    if since is not None:
        clauses.append("time >= ?")
        params.append(float(since))
    if until is not None:
        clauses.append("time < ?")
        params.append(float(until))
    if not include_shadow:
        clauses.append("NOT shadow")
    if model is not None:
        clauses.append("model = ?")
        params.append(model)
    return " AND ".join(clauses), params
