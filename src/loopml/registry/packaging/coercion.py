"""`Signature.coerce`: give `predict` the column order and dtypes the model was trained on.

A request decoded from JSON differs from training data in small ways (ints where training
had floats, strings for dates and categories, columns in any order); scikit-learn pipelines
are sensitive to all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging.column_rules import dtype_family
from loopml.registry.packaging.columns import ColumnSpec


class Coercer:
    """The column order and target dtypes of one signature, prepared once (serving hot path)."""

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.specs = specs
        self.names = pd.Index([spec.name for spec in specs])
        self.categories = {
            spec.name: pd.CategoricalDtype(spec.categories)  # None: levels from the values
            for spec in specs
            if spec.type == "category"
        }

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame`'s signature columns in order, cast to training dtypes; extras dropped."""
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(f"coerce takes a pandas DataFrame, got {type(frame).__name__}")
        if frame.columns.equals(self.names):
            out = frame
        else:
            missing = [name for name in self.names if name not in frame.columns]
            if missing:
                raise ValidationError(
                    f"cannot coerce: missing columns {', '.join(map(repr, missing))} "
                    "(Signature.validate lists every problem)"
                )
            if not frame.columns.is_unique:
                raise ValidationError("cannot coerce: the frame repeats a column name")
            out = frame.loc[:, self.names]
        changed = {}
        for spec, dtype in zip(self.specs, out.dtypes, strict=True):
            if self._fits(spec, dtype):
                continue
            try:
                cast = _cast(spec, out[spec.name], self.categories)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"cannot coerce column {spec.name!r} to {spec.type}: {exc} "
                    "(Signature.validate explains which values are wrong)"
                ) from exc
            if cast is not None:
                changed[spec.name] = cast
        return out.assign(**changed) if changed else out

    def _fits(self, spec: ColumnSpec, dtype: Any) -> bool:
        """Whether the dtype alone shows the column needs no cast (no values read)."""
        if spec.type == "float":
            return bool(dtype == np.float64)
        if spec.type == "category":
            # Unordered categoricals compare equal whatever their level order; the codes a
            # model sees depend on that order, so it must match training's.
            levels = self.categories[spec.name].categories
            return isinstance(dtype, pd.CategoricalDtype) and (
                levels is None or dtype.categories.equals(levels)
            )
        if spec.type == "string":
            return True  # object and str columns both suit scikit-learn
        return dtype_family(dtype) == spec.type  # integer, boolean, datetime


def _cast(
    spec: ColumnSpec, column: pd.Series[Any], categories: dict[str, pd.CategoricalDtype]
) -> pd.Series[Any] | None:
    """The column converted to the spec's training dtype, or None to leave it as it is."""
    if spec.type == "float":
        return column.astype("float64")
    if spec.type == "integer":
        return _to_integer(column)
    if spec.type == "boolean":
        if column.isna().any():
            return None  # training had object booleans with gaps too
        if not all(isinstance(value, bool | np.bool_) for value in column):
            raise ValueError("it holds values other than true and false")
        return column.astype(bool)
    if spec.type == "category":
        target = categories[spec.name]
        if isinstance(column.dtype, pd.CategoricalDtype) and target.categories is not None:
            return column.cat.set_categories(target.categories)  # astype would keep the codes
        return column.astype(target)
    if spec.type == "datetime":
        return pd.to_datetime(column, format="ISO8601")
    return None


def _to_integer(column: pd.Series[Any]) -> pd.Series[Any]:
    """Whole numbers become int64; with nulls they stay float64, as pandas had them in training."""
    numbers = column.astype("float64")
    if numbers.isna().any():
        return numbers
    values = numbers.to_numpy()
    if not np.all(np.isfinite(values) & (values == np.trunc(values))):
        raise ValueError("it holds numbers with a fractional part")
    return numbers.astype("int64")
