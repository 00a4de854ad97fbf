"""infer_signature, and a signature as JSON-safe data."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.registry.packaging import ColumnSpec, Signature, infer_signature


def test_infers_types_nullability_and_categories(mixed: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = mixed
    specs = {spec.name: spec for spec in infer_signature(X, y).inputs}
    assert specs["age"] == ColumnSpec("age", "float")
    assert specs["visits"] == ColumnSpec("visits", "integer")
    assert specs["region"] == ColumnSpec(
        "region", "category", categories=["east", "north", "south"]
    )
    assert specs["plan"] == ColumnSpec("plan", "string", categories=["basic", "plus"])
    assert specs["patient"] == ColumnSpec("patient", "string")  # all distinct: an id, not levels
    assert specs["smoker"] == ColumnSpec("smoker", "boolean")
    assert specs["s5"] == ColumnSpec("s5", "float", nullable=True)
    assert list(specs) == list(X.columns)


def test_outputs_come_from_predictions(mixed: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = mixed
    assert infer_signature(X, y).outputs == [ColumnSpec("target", "integer")]
    assert infer_signature(X, y.to_numpy()).outputs == [ColumnSpec("prediction", "integer")]
    labels = np.where(y.to_numpy() == 1, "high", "low")
    assert infer_signature(X, labels).outputs == [
        ColumnSpec("prediction", "string", categories=["high", "low"])
    ]
    two = infer_signature(X, np.zeros((len(X), 2))).outputs
    assert [spec.name for spec in two] == ["prediction_0", "prediction_1"]
    assert infer_signature(X).outputs == []


def test_arrays_get_positional_names(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = cancer
    signature = infer_signature(X.to_numpy())
    assert signature.input_names == [f"f{i}" for i in range(X.shape[1])]
    assert {spec.type for spec in signature.inputs} == {"float"}


def test_many_levels_are_not_recorded() -> None:
    frame = pd.DataFrame(
        {
            "city": [f"c{i % 60}" for i in range(600)],
            "kind": pd.Categorical([f"k{i % 60}" for i in range(600)]),
        }
    )
    specs = infer_signature(frame).inputs
    assert [spec.categories for spec in specs] == [None, None]
    assert infer_signature(frame, max_categories=60).inputs[0].categories is not None


def test_categorical_of_numbers_is_typed_by_its_values() -> None:
    frame = pd.DataFrame({"grade": pd.Categorical([1, 2, 3, 2])})
    assert infer_signature(frame).inputs == [ColumnSpec("grade", "integer")]


def test_object_columns_are_typed_by_their_values() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.Series([1, None, 3], dtype=object),
            "x": pd.Series([1.5, 2, None], dtype=object),
            "flag": pd.Series([True, None, False], dtype=object),
            "empty": pd.Series([None, None, None], dtype=object),
            "when": pd.to_datetime(pd.Series(["2024-01-01", None, "2024-03-01"])),
        }
    )
    specs = infer_signature(frame).inputs
    assert [(s.type, s.nullable) for s in specs] == [
        ("integer", True),
        ("float", True),
        ("boolean", True),
        ("float", True),
        ("datetime", True),
    ]


def test_unusable_data_is_refused_with_the_column_named() -> None:
    with pytest.raises(ValidationError, match="'mess' holds mixed"):
        infer_signature(pd.DataFrame({"mess": pd.Series([1, "a", 2.5], dtype=object)}))
    with pytest.raises(ValidationError, match="not strings"):
        infer_signature(pd.DataFrame(np.zeros((3, 2))))
    with pytest.raises(ValidationError, match="2-D"):
        infer_signature(np.zeros(3))


def test_dict_roundtrip_is_json_safe(mixed: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = mixed
    signature = infer_signature(X, y)
    data = json.loads(json.dumps(signature.to_dict()))
    assert Signature.from_dict(data) == signature
    assert data["inputs"][4] == {
        "name": "region",
        "type": "category",
        "nullable": False,
        "categories": ["east", "north", "south"],
    }


def test_a_signature_pickles(mixed: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = mixed
    signature = pickle.loads(pickle.dumps(infer_signature(X)))
    assert signature == infer_signature(X)
    assert signature.validate(X.head(3)) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inputs": [{"name": "a", "type": "decimal"}]}, "use one of"),
        ({"inputs": [{"name": "a"}]}, "needs 'name' and 'type'"),
        ({"inputs": [{"name": "a", "type": "float", "categories": ["x"]}]}, "only string"),
        ({"inputs": [{"name": "a", "type": "float", "nullable": "yes"}]}, "true or false"),
        ({"inputs": [{"name": "a", "type": "float"}] * 2}, "twice: a"),
        ({"outputs": []}, "list of 'inputs'"),
        ([], "list of 'inputs'"),
    ],
)
def test_malformed_dicts_are_refused(data: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Signature.from_dict(data)
