"""Signature.validate finds each kind of problem, names the field, and both paths agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.registry.packaging import ColumnSpec, FieldError, Signature, infer_signature
from loopml.registry.packaging.checks import Plan

SIGNATURE = Signature(
    [
        ColumnSpec("age", "float"),
        ColumnSpec("visits", "integer"),
        ColumnSpec("smoker", "boolean"),
        ColumnSpec("region", "category", categories=["east", "north", "south"]),
        ColumnSpec("note", "string", nullable=True),
        ColumnSpec("seen", "datetime"),
        ColumnSpec("s5", "float", nullable=True),
    ]
)
GOOD: dict[str, Any] = {
    "age": 0.1,
    "visits": 3,
    "smoker": False,
    "region": "north",
    "note": "ok",
    "seen": "2024-05-01T12:30:00",
    "s5": None,
}


def request(*changes: dict[str, Any], rows: int = 1) -> pd.DataFrame:
    """JSON-like records, as the server decodes them; `changes` apply to rows 0, 1, …"""
    records = [dict(GOOD) for _ in range(rows)]
    for record, change in zip(records, changes, strict=False):
        record.update(change)
    return pd.DataFrame(records)


def fields(errors: list[FieldError]) -> list[tuple[str, str]]:
    return [(e.field, e.problem) for e in errors]


def test_a_good_request_has_no_problems() -> None:
    assert SIGNATURE.validate(request()) == []
    assert SIGNATURE.validate(request(rows=300)) == []  # the vectorised path
    assert SIGNATURE.validate(request({"age": 3}, {"visits": 4.0}, rows=2)) == []  # ints for floats


def test_missing_unexpected_and_repeated_columns() -> None:
    frame = request().drop(columns=["visits"]).assign(colour="red")
    assert fields(SIGNATURE.validate(frame)) == [
        ("visits", "missing column"),
        ("colour", "unexpected column"),
    ]
    doubled = pd.concat([request(), request()[["age"]]], axis=1)
    assert fields(SIGNATURE.validate(doubled)) == [("age", "column appears 2 times")]
    hint = SIGNATURE.validate(frame)[1].hint
    assert hint.startswith("remove it; the model takes 7 columns: age, visits")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"age": "abc"}, ("age", "expected float, got str 'abc' at row 0")),
        ({"age": True}, ("age", "expected float, got bool True at row 0")),
        ({"visits": 2.5}, ("visits", "expected integer, got float 2.5 at row 0")),
        ({"visits": "3"}, ("visits", "expected integer, got str '3' at row 0")),
        ({"smoker": 1}, ("smoker", "expected boolean, got int 1 at row 0")),
        ({"region": "west"}, ("region", "unknown category 'west' at row 0")),
        ({"region": 3}, ("region", "expected category, got int 3 at row 0")),
        ({"seen": "yesterday"}, ("seen", "expected datetime, got str 'yesterday' at row 0")),
        ({"age": None}, ("age", "missing value at row 0")),
        ({"age": float("nan")}, ("age", "missing value at row 0")),
        ({"region": None}, ("region", "missing value at row 0")),
    ],
)
def test_each_kind_of_problem_names_the_field(
    change: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert fields(SIGNATURE.validate(request(change))) == [expected]


def test_nullable_columns_take_nulls() -> None:
    assert SIGNATURE.validate(request({"note": None, "s5": float("nan")})) == []


def test_hints_say_how_to_fix() -> None:
    (unknown,) = SIGNATURE.validate(request({"region": "west"}))
    assert unknown.hint == "use one of: 'east', 'north', 'south'"
    (null,) = SIGNATURE.validate(request({"age": None}))
    assert null.hint == "'age' was never empty in training; send a value"
    assert unknown.to_dict() == {
        "field": "region",
        "problem": unknown.problem,
        "hint": unknown.hint,
    }


def test_many_bad_rows_are_summarised() -> None:
    frame = request({}, {"age": "x"}, {}, {"age": "y"}, {"age": "z"}, {"age": "w"}, rows=8)
    assert fields(SIGNATURE.validate(frame)) == [
        ("age", "expected float, got str 'x' at rows 1, 3, 4 and 1 more")
    ]


def test_several_problems_in_one_column_are_all_reported() -> None:
    frame = request({"region": None}, {"region": 7}, {"region": "west"}, rows=3)
    assert fields(SIGNATURE.validate(frame)) == [
        ("region", "missing value at row 0"),
        ("region", "expected category, got int 7 at row 1"),
        ("region", "unknown category 'west' at row 2"),
    ]


def test_validate_takes_a_dataframe_only() -> None:
    with pytest.raises(ValidationError, match="DataFrame"):
        SIGNATURE.validate(np.zeros((1, 7)))  # type: ignore[arg-type]


# ------------------------------------------------------------------ both paths agree
def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The same data with pandas dtypes inferred, as a frame built from arrays would have."""
    return frame.infer_objects()


CASES: list[tuple[str, bool, Callable[[int], pd.DataFrame]]] = [
    ("good", True, lambda n: request(rows=n)),
    ("good typed", True, lambda n: _typed(request(rows=n))),
    ("reordered", True, lambda n: request(rows=n).iloc[:, ::-1]),
    ("str in float", False, lambda n: request({"age": "abc"}, rows=n)),
    ("floats in integer", False, lambda n: request({"visits": 1.5}, {"visits": 2.0}, rows=n)),
    ("whole float column", True, lambda n: request(rows=n).astype({"visits": "float64"})),
    ("int column in bool", False, lambda n: request(rows=n).astype({"smoker": "int64"})),
    ("bool column in float", False, lambda n: request(rows=n).assign(age=True)),
    ("nulls", False, lambda n: request({"age": None, "region": None}, rows=n)),
    ("nan typed", False, lambda n: _typed(request({"age": float("nan")}, rows=n))),
    ("unknown level", False, lambda n: request({"region": "west"}, rows=n)),
    ("categorical dtype", True, lambda n: request(rows=n).astype({"region": "category"})),
    ("bad dates", False, lambda n: request({"seen": "soon"}, {"seen": 5}, rows=n)),
    ("datetime dtype", True, lambda n: request(rows=n).astype({"seen": "datetime64[ns]"})),
    (
        "nullable ints",
        False,
        lambda n: request({"visits": None}, rows=n).astype({"visits": "Int64"}),
    ),
    ("numbers only", False, lambda n: request(rows=n)[["age", "visits", "s5"]].astype(float)),
]


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize(("name", "valid", "build"), CASES, ids=[case[0] for case in CASES])
def test_per_value_and_vectorised_paths_agree(
    name: str, valid: bool, build: Callable[[int], pd.DataFrame], rows: int
) -> None:
    plan = Plan(SIGNATURE.inputs)
    frame = build(rows)
    per_value = plan.check(frame, small_rows=1_000)
    assert per_value == plan.check(frame, small_rows=0)  # vectorised
    assert (per_value == []) == valid, per_value


def test_inferred_signature_accepts_its_own_training_rows(
    mixed: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, _ = mixed
    signature = infer_signature(X)
    assert signature.validate(X) == []
    assert signature.validate(X.head(1)) == []
    assert signature.validate(pd.DataFrame(X.head(20).to_dict(orient="records"))) == []
