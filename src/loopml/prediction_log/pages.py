"""A window of the prediction log a page at a time, for windows too large for one frame.

Pages are keyset pages over the unique row order (time, request_id, shadow, model, row):
each continues after the last row of the one before, so rows flushed or compacted between
two pages never repeat, and a later page reads only the segments from its position on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopml.errors import ValidationError
from loopml.prediction_log.queries import (
    ROW_ORDER,
    connect,
    ordered_columns,
    window_filter,
    with_latest_label,
)
from loopml.store import Stores
from loopml.store.paging import bad_token, decode_after, encode_token, scope_fingerprint

LISTING = "prediction log windows"
MAX_ROWS = 1_000_000
_KEYS = ("time", "request_id", "shadow", "model", "row")


@dataclass(frozen=True)
class LogPage:
    """One page of prediction rows; `next_page_token` is None on the last page."""

    frame: pd.DataFrame
    next_page_token: str | None


def page_frame(
    stores: Stores,
    deployment: str,
    *,
    since: float | None,
    until: float | None,
    include_shadow: bool,
    labelled: bool,
    max_rows: int,
    page_token: str | None,
    with_labels: bool = False,
) -> LogPage:
    """Up to `max_rows` prediction rows of [since, until) in row order (with `labelled`,
    only rows that have feedback, with `label` and `label_time`; with `with_labels`, every
    row, and those columns null where no feedback came)."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or not 0 < max_rows <= MAX_ROWS:
        raise ValidationError(
            f"max_rows must be an integer from 1 to {MAX_ROWS:,}, got {max_rows!r}"
        )
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not math.isfinite(bound)
        ):
            raise ValidationError(f"{name} must be epoch seconds (a number), got {bound!r}")
    scope = {
        "deployment": deployment,
        "since": since,
        "until": until,
        "shadow": include_shadow,
        "labelled": labelled,
    }
    if with_labels:
        scope["with_labels"] = True
    fingerprint = scope_fingerprint(scope)
    after = None if page_token is None else _after(page_token, fingerprint)
    start = since if after is None else max(after[0], since if since is not None else after[0])
    where = window_filter(since, until, include_shadow)
    params: list[Any] = []
    if after is not None:
        where += f" AND ({ROW_ORDER}) > (?, ?, ?, ?, ?)"
        params = list(after)
    inner = f"SELECT * FROM predictions WHERE {where}"
    joined = labelled or with_labels
    sql = (
        with_latest_label(inner, keep_unlabelled=not labelled)
        if joined
        else f"{inner} ORDER BY {ROW_ORDER}"
    )
    with connect(stores, deployment, start, until, feedback=joined) as conn:
        frame = conn.execute(f"{sql} LIMIT {max_rows + 1}", params).df()
    token = None
    if len(frame) > max_rows:
        frame = frame.iloc[:max_rows]
        last = frame.iloc[-1]
        values = [
            float(last["time"]),
            str(last["request_id"]),
            bool(last["shadow"]),
            str(last["model"]),
            int(last["row"]),
        ]
        token = encode_token(LISTING, fingerprint, values)
    frame = ordered_columns(frame)
    if joined:
        tail = ["label", "label_time"]
        frame = frame[[c for c in frame.columns if c not in tail] + tail]
    return LogPage(frame, token)


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _after(token: str, fingerprint: str) -> list[Any]:
    after = decode_after(token, LISTING, fingerprint, len(_KEYS))
    time_, request_id, shadow, model, row = after
    if not (
        isinstance(time_, int | float)
        and not isinstance(time_, bool)
        and isinstance(request_id, str)
        and isinstance(shadow, bool)
        and isinstance(model, str)
        and isinstance(row, int)
        and not isinstance(row, bool)
    ):
        raise bad_token(LISTING)
    return [float(time_), request_id, shadow, model, row]
