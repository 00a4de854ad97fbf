"""`infer_signature`: read a signature off the training data and the model's predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging.column_rules import dtype_family
from loopml.registry.packaging.columns import ColumnSpec, ColumnType
from loopml.registry.packaging.signature import Signature

MAX_CATEGORIES = 50

_TYPED_FAMILIES: dict[str, ColumnType] = {
    "float": "float",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
}
# pandas.api.types.infer_dtype answers for object columns -> signature types.
_INFERRED: dict[str, ColumnType] = {
    "string": "string",
    "integer": "integer",
    "floating": "float",
    "mixed-integer-float": "float",
    "boolean": "boolean",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
    "empty": "float",  # all values null: most often a numeric column that was never filled
}


def infer_signature(
    X: pd.DataFrame | np.ndarray[Any, Any],
    predictions: Any = None,
    *,
    max_categories: int = MAX_CATEGORIES,
) -> Signature:
    """The signature of a model trained on `X` that returns `predictions`.

    Arrays get columns f0..fN (outputs: prediction, or prediction_0..); a column is nullable
    when the training data had a null in it. String columns whose values repeat (at most
    `max_categories` levels, each seen twice on average) and pandas categoricals with at
    most `max_categories` levels record their levels, so unseen ones can be refused.
    """
    inputs = _specs(_as_frame(X, "X"), max_categories)
    if predictions is None:
        return Signature(inputs)
    return Signature(inputs, _specs(_as_frame(predictions, "predictions"), max_categories))


def _as_frame(data: Any, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        default = "f0" if what == "X" else "prediction"
        frame = data.to_frame(data.name if isinstance(data.name, str) else default)
    else:
        array = np.asarray(data)
        if array.ndim == 1 and what == "predictions":
            frame = pd.DataFrame({"prediction": array})
        elif array.ndim == 2:
            prefix = "f" if what == "X" else "prediction_"
            frame = pd.DataFrame(array, columns=[f"{prefix}{i}" for i in range(array.shape[1])])
        else:
            raise ValidationError(
                f"{what} must be a DataFrame or a 2-D array (1-D too for predictions), "
                f"got an array of shape {array.shape}"
            )
    odd = [c for c in frame.columns if not isinstance(c, str)]
    if odd:
        raise ValidationError(
            f"{what} has column names that are not strings ({odd[:3]!r}…): name the columns "
            "or pass a numpy array"
        )
    return frame


def _specs(frame: pd.DataFrame, max_categories: int) -> list[ColumnSpec]:
    return [_spec(str(name), frame[name], max_categories) for name in frame.columns]


def _spec(name: str, column: pd.Series[Any], max_categories: int) -> ColumnSpec:
    nullable = bool(column.isna().any())
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = column.dtype.categories
        if pd.api.types.infer_dtype(levels) == "string":
            kept = [str(v) for v in levels] if len(levels) <= max_categories else None
            return ColumnSpec(name, "category", nullable, kept)
        # Levels that are numbers, dates…: the column is described by what its values are.
        return ColumnSpec(name, _type_of(name, levels.to_series()), nullable)
    column_type = _type_of(name, column)
    categories = None
    if column_type == "string":
        present = column.dropna()
        distinct = present.unique()
        if len(distinct) <= max_categories and 2 * len(distinct) <= len(present):
            categories = sorted(str(v) for v in distinct)
    return ColumnSpec(name, column_type, nullable, categories)


def _type_of(name: str, column: pd.Series[Any]) -> ColumnType:
    family = dtype_family(column.dtype)
    if family in _TYPED_FAMILIES:
        return _TYPED_FAMILIES[family]
    inferred = pd.api.types.infer_dtype(column, skipna=True)
    if inferred not in _INFERRED:
        raise ValidationError(
            f"column {name!r} holds {inferred} values, which a signature cannot describe: "
            "give it one type of integer, float, boolean, string, category or datetime"
        )
    return _INFERRED[inferred]
