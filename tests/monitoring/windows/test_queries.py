"""The rows of a window, read with DuckDB from a real prediction log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from loopml.monitoring.latency import latency
from loopml.monitoring.performance import performance
from loopml.monitoring.windows.queries import labelled_rows, latency_by_model, request_rows
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.prediction_log.queries import connect
from loopml.sdk import Client

T0 = 1_767_225_600.0


def _record(request_id: str, at: float, **fields: Any) -> PredictionRecord:
    values: dict[str, Any] = {
        "deployment": "churn",
        "request_id": request_id,
        "model": "model:churn/1",
        "inputs": [{"tenure": 3}],
        "outputs": ["yes"],
        "probabilities": [[0.2, 0.8]],
        "latency_ms": 10.0,
        "at": at,
    }
    return PredictionRecord(**(values | fields))


@pytest.fixture
def filled(any_client: Client) -> Iterator[PredictionLog]:
    """Four requests in the window [T0, T0+60), one before and one after it."""
    with PredictionLog(any_client.stores) as log:
        log.record(_record("early", T0 - 10))
        log.record(
            _record(
                "r-1",
                T0 + 1,
                inputs=[{"tenure": 1}, {"tenure": 2}],
                outputs=["yes", "no"],
                probabilities=[[0.1, 0.9], [0.7, 0.3]],
                latency_ms=30.0,
            )
        )
        log.record(_record("r-1", T0 + 1.5, model="model:churn/2", shadow=True, latency_ms=99.0))
        log.record(_record("r-2", T0 + 2, model="model:churn/2", latency_ms=20.0))
        log.record(_record("r-3", T0 + 3, inputs=[], outputs=[], probabilities=None, status=500))
        log.record(_record("r-4", T0 + 4, outputs=["no"], probabilities=[[0.6, 0.4]]))
        log.record(_record("late", T0 + 61))
        log.record_feedback("churn", "r-1", ["yes", "yes"], at=T0 + 30)  # one label per row
        log.record_feedback("churn", "r-1", "no", at=T0 + 20)  # older request-level label
        log.record_feedback("churn", "r-2", "no", at=T0 + 30)
        log.record_feedback("churn", "r-2", "yes", at=T0 + 40)  # a later correction wins
        log.record_feedback("churn", "r-3", "no", at=T0 + 30)  # a failed request: no row
        log.flush()
        yield log


def test_labelled_rows_keep_unlabelled_predictions(filled: PredictionLog) -> None:
    with connect(filled.stores, "churn", T0, T0 + 60) as conn:
        frame = labelled_rows(conn, T0, T0 + 60)
    labels = [None if pd.isna(v) else v for v in frame["label"]]
    got = list(zip(frame["request_id"], frame["row"], labels, strict=True))
    assert got == [("r-1", 0, "yes"), ("r-1", 1, "yes"), ("r-2", 0, "yes"), ("r-4", 0, None)]
    assert frame.loc[0, "proba_1"] == pytest.approx(0.9)
    result = performance(frame, labels=["no", "yes"])
    assert (result.rows, result.labelled_rows, result.status) == (4, 3, "ok")
    assert result.metrics["accuracy"] == pytest.approx(2 / 3)


def test_labelled_rows_of_one_model_and_with_shadows(filled: PredictionLog) -> None:
    with connect(filled.stores, "churn", T0, T0 + 60) as conn:
        canary = labelled_rows(conn, T0, T0 + 60, model="model:churn/2")
        shadows = labelled_rows(conn, T0, T0 + 60, include_shadow=True, model="model:churn/2")
    assert list(canary["request_id"]) == ["r-2"]
    assert list(zip(shadows["request_id"], shadows["shadow"], strict=True)) == [
        ("r-1", True),
        ("r-2", False),
    ]


def test_a_window_without_labels_and_an_empty_one(filled: PredictionLog) -> None:
    with connect(filled.stores, "churn", T0 + 4, T0 + 5) as conn:
        only_unlabelled = labelled_rows(conn, T0 + 4, T0 + 5)
    assert performance(only_unlabelled).status == "no_labels"
    with connect(filled.stores, "churn", T0 + 100, T0 + 200) as conn:
        nothing = labelled_rows(conn, T0 + 100, T0 + 200)
        assert [r.requests for r in latency_by_model(conn, T0 + 100, T0 + 200)] == [0]
    assert performance(nothing).status == "empty"


def test_request_rows_and_latency_count_errors(filled: PredictionLog) -> None:
    with connect(filled.stores, "churn", T0, T0 + 60) as conn:
        requests = request_rows(conn, T0, T0 + 60)
        results = latency_by_model(conn, T0, T0 + 60)
        with_shadow = latency_by_model(conn, T0, T0 + 60, include_shadow=True)
    assert list(requests["request_id"]) == ["r-1", "r-2", "r-3", "r-4"]
    assert list(requests["rows"]) == [2, 1, 1, 1]
    assert list(requests["status"]) == [200, 200, 500, 200]
    everything, first, second = results
    assert (everything.requests, everything.errors) == (4, 1)
    assert everything.p50_ms == pytest.approx(20.0)  # 10, 20, 30: per request, not per row
    assert (first.model, first.requests, first.errors) == ("model:churn/1", 3, 1)
    assert (second.model, second.requests, second.p50_ms) == ("model:churn/2", 1, 20.0)
    assert with_shadow[2].requests == 2 and with_shadow[0].requests == 5
    assert latency(requests) == results
