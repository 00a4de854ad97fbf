"""Latency percentiles and error rate of a window, per request and per model version.

A request is one sample however many rows it scored (its rows share one `latency_ms`), so
a few big batch requests cannot outweigh many single-row ones. Percentiles cover the
answered requests only: a refusal (a 422 in a microsecond, or a 500 after a timeout) says
nothing about how fast the model answers, and is counted in the error rate instead. A
request is an error when its `status` is 400 or more; rows without a status are answered.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.errors import ValidationError
from loopml.monitoring.results import LatencyResult

ERROR_STATUS = 400
PERCENTILES = (50.0, 95.0, 99.0)
_DIGITS = re.compile(r"(\d+)")


def latency(frame: pd.DataFrame | pa.Table) -> list[LatencyResult]:
    """All requests first (model=None), then one result per model version, in version order.

    `frame` has `request_id`, `model` and `latency_ms`, optionally `status` and `shadow`;
    rows of one request (same id, model and shadow flag) are one sample. Failed requests
    that never reached a model (model "") count only in the all-models result.
    """
    data = frame.to_pandas() if isinstance(frame, pa.Table) else frame
    missing = [c for c in ("request_id", "model", "latency_ms") if c not in data.columns]
    if missing:
        raise ValidationError(f"latency needs the columns {missing}; got {list(data.columns)}")
    requests = per_request(data)
    results = [_summary(None, requests)]
    models = sorted({m for m in requests["model"] if m}, key=version_order)
    for model in models:
        results.append(_summary(model, requests[requests["model"] == model]))
    return results


def per_request(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per request: `request_id`, `model`, `latency_ms`, `error`."""
    data = frame.copy()
    data["model"] = data["model"].fillna("").astype(str)
    status = data["status"] if "status" in data.columns else pd.Series(index=data.index)
    data["error"] = pd.to_numeric(status, errors="coerce").fillna(200) >= ERROR_STATUS
    data["latency_ms"] = pd.to_numeric(data["latency_ms"], errors="coerce")
    keys = ["request_id", "model"] + (["shadow"] if "shadow" in data.columns else [])
    if data.empty:
        return data[[*keys, "latency_ms", "error"]]
    grouped = data.groupby(keys, dropna=False, sort=False)
    return grouped.agg(latency_ms=("latency_ms", "first"), error=("error", "max")).reset_index()


def version_order(model: str) -> tuple[object, ...]:
    """`model:bikes/9` before `model:bikes/10`: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(model))


def _summary(model: str | None, requests: pd.DataFrame) -> LatencyResult:
    errors = int(requests["error"].sum())
    answered = requests.loc[~requests["error"].astype(bool), "latency_ms"].dropna()
    values = answered.to_numpy(dtype=float)
    if len(values):
        p50, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
        return LatencyResult(model, len(requests), errors, p50, p95, p99)
    return LatencyResult(model, len(requests), errors, None, None, None)
