"""Latency percentiles per request (not per row) and error rates per model version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.errors import ValidationError
from loopml.monitoring.latency import latency, version_order


def _rows(*requests: tuple[str, str, float, int, int]) -> pd.DataFrame:
    """(request_id, model, latency_ms, rows, status) → one frame row per scored row."""
    out = []
    for request_id, model, ms, rows, status in requests:
        for row in range(rows):
            out.append(
                {"request_id": request_id, "model": model, "latency_ms": ms, "row": row}
                | {"status": status, "shadow": False}
            )
    return pd.DataFrame(out)


def test_a_big_request_is_one_sample() -> None:
    frame = _rows(
        ("a", "model:bikes/3", 10.0, 1, 200),
        ("b", "model:bikes/3", 20.0, 1, 200),
        ("c", "model:bikes/3", 900.0, 100, 200),  # 100 rows, still one request
    )
    (everything, model) = latency(frame)
    assert everything.model is None and everything.requests == 3
    assert everything.p50_ms == pytest.approx(20.0)
    assert everything.p99_ms == pytest.approx(np.percentile([10, 20, 900], 99))
    per_row = np.percentile(frame["latency_ms"], 50)
    assert per_row == 900.0 and everything.p50_ms != per_row
    assert model.model == "model:bikes/3" and model.requests == 3


def test_errors_count_in_the_rate_not_in_the_percentiles() -> None:
    frame = _rows(
        ("a", "model:bikes/3", 10.0, 2, 200),
        ("b", "model:bikes/3", 12.0, 1, 200),
        ("c", "model:bikes/3", 5000.0, 1, 500),
        ("d", "", 0.1, 1, 400),  # unparsable body: never reached a model
        ("e", "model:bikes/10", 30.0, 1, 200),
        ("f", "model:bikes/10", 1.0, 1, 422),
    )
    everything, v3, v10 = latency(frame)
    assert (everything.requests, everything.errors) == (6, 3)
    assert everything.error_rate == pytest.approx(0.5)
    assert everything.p99_ms is not None and everything.p99_ms < 31
    assert (v3.model, v3.requests, v3.errors) == ("model:bikes/3", 3, 1)
    assert v3.p50_ms == pytest.approx(11.0)
    assert (v10.model, v10.requests, v10.errors, v10.p50_ms) == ("model:bikes/10", 2, 1, 30.0)
    assert v10.to_dict()["error_rate"] == pytest.approx(0.5)


def test_only_errors_leave_percentiles_empty() -> None:
    (everything, model) = latency(_rows(("a", "model:m/1", 3.0, 1, 503)))
    assert (everything.requests, everything.errors, everything.p50_ms) == (1, 1, None)
    assert model.error_rate == 1.0


def test_rows_without_status_are_answered_and_arrow_works() -> None:
    table = pa.table(
        {"request_id": ["a", "a", "b"], "model": ["m/1"] * 3, "latency_ms": [4.0, 4.0, 8.0]}
    )
    (everything, _) = latency(table)
    assert (everything.requests, everything.errors, everything.p50_ms) == (2, 0, 6.0)


def test_shadow_answers_are_their_own_samples() -> None:
    frame = pd.DataFrame(
        {
            "request_id": ["a", "a"],
            "model": ["model:m/1", "model:m/2"],
            "latency_ms": [5.0, 50.0],
            "shadow": [False, True],
        }
    )
    everything, first, second = latency(frame)
    assert everything.requests == 2 and (first.p50_ms, second.p50_ms) == (5.0, 50.0)


def test_empty_window() -> None:
    frame = pd.DataFrame({"request_id": [], "model": [], "latency_ms": [], "status": []})
    assert [r.to_dict() for r in latency(frame)] == [
        {
            "model": None,
            "requests": 0,
            "errors": 0,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
            "error_rate": None,
        }
    ]


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValidationError, match="latency_ms"):
        latency(pd.DataFrame({"request_id": ["a"], "model": ["m"]}))


def test_versions_sort_by_number() -> None:
    names = ["model:b/10", "model:a/2", "model:b/9"]
    assert sorted(names, key=version_order) == ["model:a/2", "model:b/9", "model:b/10"]
