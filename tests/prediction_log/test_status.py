"""Failed requests in the prediction log: encoded compactly, kept apart from predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from loopml.prediction_log import PredictionLog, PredictionRecord, tables
from loopml.prediction_log.records import encode_prediction
from loopml.prediction_log.tables import batches
from tests.prediction_log.helpers import T0, rec

OLD_COLUMNS = [c for c in tables.PREDICTION_COLUMNS if c != "status"]


BlockBuilder = Callable[[list[Any]], tables.Block]


def _failed(request_id: str, status: int = 500, at: float = T0) -> PredictionRecord:
    return rec(request_id, inputs=[], outputs=[], latency_ms=40.0, status=status, at=at, model="")


def test_only_failed_requests_carry_a_status_element() -> None:
    assert len(orjson.loads(encode_prediction(rec("r-1")))) == 10  # as older versions wrote
    line = orjson.loads(encode_prediction(rec("r-2", status=503)))
    assert len(line) == 11 and line[-1] == 503


def test_lines_with_and_without_status_become_rows() -> None:
    lines = [encode_prediction(rec("r-1")), encode_prediction(rec("r-2", status=422))]
    grouped, records = batches(lines)
    assert records == 2
    (batch,) = grouped.values()
    table = batch.to_table()
    assert table.column("status").to_pylist() == [200, 422]
    assert str(table.schema.field("status").type) == "int32"


def test_failed_requests_are_not_predictions(any_plog: PredictionLog) -> None:
    any_plog.record(rec("r-1"))
    any_plog.record(_failed("r-2", 500, T0 + 1))
    any_plog.record_feedback("bikes", "r-1", 230.0, at=T0 + 5)
    any_plog.record_feedback("bikes", "r-2", 10.0, at=T0 + 5)
    any_plog.flush()
    assert list(any_plog.predictions("bikes")["request_id"]) == ["r-1"]
    assert list(any_plog.labelled("bikes")["request_id"]) == ["r-1"]
    with any_plog.duckdb("bikes") as conn:
        logged = conn.execute(
            "SELECT request_id, status, model, row, prediction FROM prediction_log ORDER BY time"
        ).fetchall()
    assert logged == [("r-1", 200, "model:bikes/3", 0, 231.0), ("r-2", 500, "", 0, None)]


def test_segments_written_before_the_status_column_read_as_answered(
    plog: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:  # an older version's segment: no status column
        patch.setattr(tables, "PREDICTION_COLUMNS", OLD_COLUMNS)
        patch.setattr(tables, "_prediction_block", _without_status(tables._prediction_block))
        plog.record(rec("old"))
        plog.flush()
    plog.record(_failed("new-error", 502, T0 + 1))
    plog.record(rec("new", at=T0 + 2))
    plog.flush()
    with plog.duckdb("bikes") as conn:
        rows = conn.execute(
            "SELECT request_id, status FROM prediction_log ORDER BY time"
        ).fetchall()
    assert rows == [("old", 200), ("new-error", 502), ("new", 200)]
    assert list(plog.predictions("bikes")["request_id"]) == ["old", "new"]


def test_a_log_of_old_segments_only_still_has_a_status(
    plog: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "PREDICTION_COLUMNS", OLD_COLUMNS)
    monkeypatch.setattr(tables, "_prediction_block", _without_status(tables._prediction_block))
    plog.record(rec("old"))
    plog.flush()
    with plog.duckdb("bikes") as conn:
        assert conn.execute("SELECT status FROM prediction_log").fetchall() == [(200,)]
        names = [row[0] for row in conn.execute("DESCRIBE predictions").fetchall()]
    assert "status" not in names


def test_an_empty_log_has_a_typed_status(plog: PredictionLog) -> None:
    with plog.duckdb("nothing") as conn:
        described = dict(
            (row[0], row[1]) for row in conn.execute("DESCRIBE prediction_log").fetchall()
        )
    assert described["status"] == "INTEGER"


def _without_status(build: BlockBuilder) -> BlockBuilder:
    def block(item: list[Any]) -> tables.Block:
        built = build(item)
        shared = {k: v for k, v in built.shared.items() if k != "status"}
        return tables.Block(built.rows, shared, built.per_row)

    return block
