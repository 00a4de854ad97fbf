"""Recording, flushing and querying predictions on every backend."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.prediction_log.records import InputTable
from loopml.store.schema import log_segments
from tests.prediction_log.helpers import DAY, T0, rec

BASE = ["request_id", "time", "deployment", "model", "shadow", "latency_ms", "row", "prediction"]


def _segments(log: PredictionLog) -> list[Any]:
    with log.stores.engine.connect() as conn:
        return list(conn.execute(select(log_segments).order_by(log_segments.c.day)))


def test_roundtrip_keeps_input_types(any_plog: PredictionLog) -> None:
    inputs = [
        {"temp": 12.5, "hour": 8, "weekday": "mon", "holiday": False},
        {"temp": -3.0, "hour": 23, "weekday": "sun", "holiday": True},
    ]
    any_plog.record(rec("r-1", inputs=inputs, outputs=[231.0, 12.0], latency_ms=2.5))
    any_plog.record(rec("r-2", at=T0 + 1))
    assert any_plog.flush() == 2
    frame = any_plog.predictions("bikes")
    assert list(frame.columns) == [*BASE, "in_temp", "in_hour", "in_weekday", "in_holiday"]
    assert frame["request_id"].tolist() == ["r-1", "r-1", "r-2"]
    assert frame["row"].tolist() == [0, 1, 0]
    assert frame["prediction"].tolist() == [231.0, 12.0, 231.0]
    assert frame["in_temp"].tolist() == [12.5, -3.0, 12.5]
    assert str(frame["in_hour"].dtype) == "int64"
    assert frame["in_weekday"].tolist()[:2] == ["mon", "sun"]
    assert frame["in_holiday"].tolist()[:2] == [False, True]
    assert frame["model"].unique().tolist() == ["model:bikes/3"]
    assert frame["latency_ms"].tolist() == [2.5, 2.5, 1.5]
    (segment,) = _segments(any_plog)
    assert (segment.kind, segment.day, segment.rows) == ("predictions", "2023-11-14", 3)
    assert (segment.min_time, segment.max_time) == (T0, T0 + 1)
    assert any_plog.stores.artifacts.exists(segment.digest)
    assert any_plog.flush() == 0  # nothing left


def test_probabilities_become_columns(plog: PredictionLog) -> None:
    plog.record(rec("a", outputs=["yes"], probabilities=[[0.2, 0.8]]))
    plog.record(rec("b", outputs=["no"], probabilities=[[0.6, 0.3, 0.1]], at=T0 + 1))
    plog.flush()
    frame = plog.predictions("bikes")
    assert list(frame.columns) == [*BASE, "proba_0", "proba_1", "proba_2", "in_temp", "in_hour"]
    assert frame["proba_1"].tolist() == [0.8, 0.3]
    assert math.isnan(frame["proba_2"][0]) and frame["proba_2"][1] == 0.1


def test_shadow_rows_are_hidden_unless_asked(plog: PredictionLog) -> None:
    plog.record(rec("r", outputs=[1.0]))
    plog.record(rec("r", outputs=[2.0], shadow=True, model="model:bikes/4"))
    plog.flush()
    assert plog.predictions("bikes")["prediction"].tolist() == [1.0]
    both = plog.predictions("bikes", include_shadow=True)
    assert both["shadow"].tolist() == [False, True]
    assert both["model"].tolist() == ["model:bikes/3", "model:bikes/4"]


def test_time_filters_include_since_and_exclude_until(any_plog: PredictionLog) -> None:
    for i in range(5):
        any_plog.record(rec(f"r{i}", at=T0 + i * 10))
        any_plog.flush()  # one segment each, so the segment pruning is exercised too
    ids = any_plog.predictions("bikes", since=T0 + 10, until=T0 + 30)["request_id"].tolist()
    assert ids == ["r1", "r2"]
    assert any_plog.predictions("bikes", since=T0 + 35)["request_id"].tolist() == ["r4"]
    assert any_plog.predictions("bikes", until=T0)["request_id"].tolist() == []


def test_segments_are_partitioned_by_deployment_kind_and_day(any_plog: PredictionLog) -> None:
    any_plog.record(rec("d1", at=T0))
    any_plog.record(rec("d2", at=T0 + DAY))
    any_plog.record(rec("x", deployment="taxis"))
    any_plog.record_feedback("bikes", "d1", 200.0, at=T0 + DAY)
    any_plog.flush()
    keys = sorted((s.deployment, s.kind, s.day, s.rows) for s in _segments(any_plog))
    assert keys == [
        ("bikes", "feedback", "2023-11-15", 1),
        ("bikes", "predictions", "2023-11-14", 1),
        ("bikes", "predictions", "2023-11-15", 1),
        ("taxis", "predictions", "2023-11-14", 1),
    ]
    assert any_plog.predictions("bikes")["request_id"].tolist() == ["d1", "d2"]
    assert any_plog.predictions("taxis")["request_id"].tolist() == ["x"]


def test_unknown_deployment_gives_empty_frames(any_plog: PredictionLog) -> None:
    assert list(any_plog.predictions("nothing").columns) == BASE
    assert any_plog.predictions("nothing").empty
    assert list(any_plog.feedback("nothing").columns) == [
        "request_id",
        "time",
        "deployment",
        "row",
        "label",
        "version",
    ]
    assert list(any_plog.labelled("nothing").columns) == [*BASE, "label", "label_time"]
    with any_plog.duckdb("nothing") as conn:
        assert conn.execute("SELECT count(*) FROM predictions, feedback").fetchall() == [(0,)]


def test_unflushed_rows_are_not_visible(plog: PredictionLog) -> None:
    plog.record(rec("r"))
    assert plog.predictions("bikes").empty
    plog.flush()
    assert len(plog.predictions("bikes")) == 1


def test_duckdb_views_for_ad_hoc_sql(plog: PredictionLog) -> None:
    for i in range(3):
        plog.record(rec(f"r{i}", outputs=[float(i)]))
    plog.record_feedback("bikes", "r1", 5.0)
    plog.flush()
    with plog.duckdb("bikes") as conn:
        total = conn.execute("SELECT sum(prediction) FROM predictions").fetchone()
        joined = conn.execute("SELECT count(*) FROM predictions JOIN feedback USING (request_id)")
        assert total == (3.0,)
        assert joined.fetchone() == (1,)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_bad_input_never_raises_and_is_stored(plog: PredictionLog) -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    odd_inputs: list[Any] = [
        {
            "when": dt.datetime(2024, 1, 2, 3, 4, 5),
            "price": decimal.Decimal("1.50"),
            "tags": {"a", "b"} and "set-as-text",
            "big": 2**80,
            "np": np.float32(1.5),
            "obj": object(),
        }
    ]
    plog.record(rec("odd", inputs=odd_inputs, outputs=[math.nan]))
    plog.record(rec("inf", outputs=[math.inf], probabilities=[[math.nan, 1.0]], at=T0 + 1))
    plog.record(rec("weird", inputs=[{"x": Unprintable(), 3: "int key"}], at=T0 + 2))
    plog.record(rec("cycle", inputs=[{"c": cyclic}], outputs=np.array([1.0, 2.0]), at=T0 + 3))
    plog.record(rec("shape", inputs="not a list", outputs=[], latency_ms="slow", at=T0 + 4))
    plog.record_feedback("bikes", "odd", object())
    assert plog.flush() == 6
    frame = plog.predictions("bikes")
    first = frame.iloc[0]
    assert first["in_when"] == "2024-01-02T03:04:05"
    assert first["in_price"] == "1.50" and first["in_big"] == str(2**80)
    assert first["in_np"] == 1.5 and first["in_obj"].startswith("<object object")
    assert math.isnan(frame["prediction"][0]) and math.isnan(frame["prediction"][1])
    with plog.duckdb("bikes") as conn:
        nulls = conn.execute("SELECT count(*) FROM predictions WHERE prediction IS NULL").fetchone()
        assert nulls == (3,)  # NaN, inf and the missing output of "shape"
    assert math.isnan(frame["proba_0"][1])
    assert frame.set_index("request_id").loc["weird", "in_3"] == "int key"
    assert frame["request_id"].tolist().count("cycle") == 2
    assert plog.feedback("bikes")["label"][0].startswith("<object object")


def test_inputs_logged_as_a_table_read_back_as_columns(plog: PredictionLog) -> None:
    table = InputTable(["temp", "season"], [(21.5, "summer"), [3.0, None]])
    plog.record(
        PredictionRecord("bikes", "t1", "model:bikes/1", table, [1.0, 2.0], None, 1.0, at=T0)
    )
    plog.record(rec("dicts", at=T0 + 1))  # the list-of-dicts layout still reads
    plog.flush()
    frame = plog.predictions("bikes").set_index(["request_id", "row"])
    assert frame.loc[("t1", 0), "in_temp"] == 21.5 and frame.loc[("t1", 0), "in_season"] == "summer"
    assert frame.loc[("t1", 1), "in_temp"] == 3.0 and pd.isna(frame.loc[("t1", 1), "in_season"])
    assert frame.loc[("t1", 1), "prediction"] == 2.0
    assert ("dicts", 0) in frame.index


def test_a_malformed_table_is_kept_as_text_not_lost(plog: PredictionLog) -> None:
    odd = {"columns": ["a", "b"], "rows": [[1]]}  # a row shorter than the columns
    plog.record(PredictionRecord("bikes", "odd", "m", odd, [1.0], None, 1.0, at=T0))  # type: ignore[arg-type]
    plog.flush()
    frame = plog.predictions("bikes")
    assert frame["request_id"].tolist() == ["odd"]
