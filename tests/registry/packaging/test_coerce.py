"""Signature.coerce gives predict the training column order and dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from loopml.errors import ValidationError
from loopml.registry.packaging import ColumnSpec, Signature, infer_signature

SIGNATURE = Signature(
    [
        ColumnSpec("age", "float"),
        ColumnSpec("visits", "integer"),
        ColumnSpec("region", "category", categories=["east", "north", "south"]),
        ColumnSpec("seen", "datetime"),
        ColumnSpec("smoker", "boolean"),
        ColumnSpec("note", "string", nullable=True),
    ]
)


def test_reorders_casts_and_drops_extras() -> None:
    frame = pd.DataFrame(
        [
            {"note": None, "smoker": True, "seen": "2024-05-01", "region": "south", "visits": 2.0,
             "age": 40, "extra": 1},
            {"note": "x", "smoker": False, "seen": "2024-05-02T08:00:00", "region": "east",
             "visits": 3.0, "age": 41, "extra": 2},
        ]
    )  # fmt: skip
    out = SIGNATURE.coerce(frame)
    assert list(out.columns) == SIGNATURE.input_names
    assert out["age"].dtype == np.float64 and out["age"].tolist() == [40.0, 41.0]
    assert out["visits"].dtype == np.int64
    assert list(out["region"].cat.categories) == ["east", "north", "south"]
    assert out["region"].cat.codes.tolist() == [2, 0]  # the training codes, not re-derived
    assert out["seen"].dtype.kind == "M"
    assert out["smoker"].dtype == bool


def test_a_frame_already_in_shape_is_returned_as_is() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    signature = infer_signature(frame)
    assert signature.coerce(frame) is frame


def test_nullable_integers_stay_float_like_in_training() -> None:
    signature = Signature([ColumnSpec("visits", "integer", nullable=True)])
    out = signature.coerce(pd.DataFrame({"visits": [1, None]}))
    assert out["visits"].dtype == np.float64


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"age": [1.0]}), "missing columns 'visits'"),
        (pd.DataFrame({"age": [1.0], "visits": [1.5], "region": ["east"], "seen": ["2024-01-01"],
                       "smoker": [True], "note": [None]}), "fractional part"),
        (pd.DataFrame({"age": ["old"], "visits": [1], "region": ["east"], "seen": ["2024-01-01"],
                       "smoker": [True], "note": [None]}), "column 'age' to float"),
        (pd.DataFrame({"age": [1.0], "visits": [1], "region": ["east"], "seen": ["2024-01-01"],
                       "smoker": ["yes"], "note": [None]}), "true and false"),
    ],
)  # fmt: skip
def test_impossible_casts_are_a_validation_error(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SIGNATURE.coerce(frame)


def test_json_request_predicts_like_training_rows(
    mixed: tuple[pd.DataFrame, pd.Series], mixed_pipeline: Pipeline
) -> None:
    X, _ = mixed
    signature = infer_signature(X)
    rows = X.head(10)
    request = pd.DataFrame(rows.to_dict(orient="records")).iloc[:, ::-1]  # any order, plain dtypes
    assert signature.validate(request) == []
    coerced = signature.coerce(request)
    assert np.array_equal(mixed_pipeline.predict_proba(coerced), mixed_pipeline.predict_proba(rows))


def test_categoricals_get_the_training_levels_in_training_order() -> None:
    signature = Signature([ColumnSpec("region", "category", categories=["east", "north"])])
    request = pd.DataFrame(
        {"region": pd.Categorical(["north", "east"], categories=["north", "east"])}
    )
    assert signature.coerce(request)["region"].cat.codes.tolist() == [1, 0]
    many = Signature([ColumnSpec("city", "category")])  # too many levels to record
    frame = pd.DataFrame({"city": pd.Categorical(["b", "a"], categories=["b", "a"])})
    assert many.coerce(frame) is frame  # already categorical: its codes are kept
