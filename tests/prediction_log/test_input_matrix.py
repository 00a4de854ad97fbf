"""Inputs logged as the float64 matrix the model was fed (`InputMatrix`)."""

from __future__ import annotations

import math

import numpy as np
import orjson

from loopml.prediction_log import PredictionLog
from loopml.prediction_log.records import InputMatrix, InputTable, encode_prediction
from loopml.prediction_log.tables import batches
from tests.prediction_log.helpers import T0, rec

NAMES = ["temp", "hour"]


def test_matrix_inputs_are_stored_as_doubles_with_nulls(any_plog: PredictionLog) -> None:
    values = np.array([[12.5, 8.0], [math.nan, 23.0], [-3.25, 0.0]])
    any_plog.record(
        rec(
            "m-1",
            inputs=InputMatrix(NAMES, values),
            outputs=[1, 0, 1],
            probabilities=[[0.25, 0.75], [0.5, 0.5], [0.125, 0.875]],
        )
    )
    assert any_plog.flush() == 1
    frame = any_plog.predictions("bikes")
    assert frame["row"].tolist() == [0, 1, 2]
    assert str(frame["in_temp"].dtype) == str(frame["in_hour"].dtype) == "float64"
    assert frame["in_temp"][0] == 12.5 and math.isnan(frame["in_temp"][1])
    assert frame["in_hour"].tolist() == [8.0, 23.0, 0.0]
    assert frame["proba_1"].tolist() == [0.75, 0.5, 0.875]
    with any_plog.duckdb("bikes") as conn:  # NaN was a null in the request: null, not NaN
        nulls = conn.execute("SELECT count(*) FROM predictions WHERE in_temp IS NULL").fetchone()
    assert nulls == (1,)


def test_matrix_lines_are_smaller_to_parse_and_exact() -> None:
    values = np.array([[0.1, 1e300], [5e-324, -0.0]])
    line = encode_prediction(rec("m-2", inputs=InputMatrix(NAMES, values), outputs=[1, 2]))
    inputs = orjson.loads(line)[4]
    assert inputs["columns"] == NAMES and len(inputs["float64"]) == 4 * 8 * 2
    grouped, records = batches([line])
    table = next(iter(grouped.values())).to_table()
    assert records == 1
    assert table.column("in_temp").to_pylist() == [0.1, 5e-324]  # every bit kept
    assert table.column("in_hour").to_pylist() == [1e300, -0.0]


def test_batches_of_matrices_line_up_with_their_rows() -> None:
    """Records of one, several and no matrix rows (and other layouts) in one batch."""
    lines = [
        encode_prediction(rec("a", inputs=InputMatrix(NAMES, np.array([[1.0, 2.0]])))),
        encode_prediction(
            rec("b", inputs=InputTable(NAMES, [[3.0, 4.0], [5.0, 6.0]]), outputs=[7.0, 8.0])
        ),
        encode_prediction(
            rec(
                "c",
                inputs=InputMatrix(NAMES, np.array([[9.0, 10.0], [11.0, 12.0]])),
                outputs=[1.0, 2.0],
            )
        ),
        encode_prediction(rec("d", inputs=InputMatrix(["wind"], np.array([[0.5]])))),
        encode_prediction(rec("e", inputs=[], outputs=[], status=422)),
    ]
    grouped, records = batches(lines)
    table = next(iter(grouped.values())).to_table()
    assert records == 5
    assert table.column("request_id").to_pylist() == ["a", "b", "b", "c", "c", "d", "e"]
    assert table.column("in_temp").to_pylist() == [1.0, 3.0, 5.0, 9.0, 11.0, None, None]
    assert table.column("in_hour").to_pylist() == [2.0, 4.0, 6.0, 10.0, 12.0, None, None]
    assert table.column("in_wind").to_pylist() == [None] * 5 + [0.5, None]


def test_a_malformed_matrix_is_kept_as_text_not_lost(plog: PredictionLog) -> None:
    for n, text in enumerate(["zz", "00"]):  # not hex; not a whole number of rows
        plog.record(rec(f"bad-{n}", inputs={"columns": NAMES, "float64": text}, at=T0 + n))
    assert plog.flush() == 2
    frame = plog.predictions("bikes")
    assert frame["request_id"].tolist() == ["bad-0", "bad-1"]
    assert frame["in_float64"].tolist() == ["zz", "00"]
