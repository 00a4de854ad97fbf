"""A signature grounded in the whole training data and in the model itself.

An input example is a handful of rows: which columns may be empty, which levels a string
column has and what range a number spans cannot be read off it. `ColumnFacts` hold those
facts for the whole training data, taken from a frame (`facts_from_frame`) or from a dataset
version's profile (`facts_from_profile`); `with_training_facts` writes them into a signature.
`probe_missing` asks the model itself: it predicts on a copy of the example with one column
emptied at a time, and a column whose emptied copy predicts finite values takes nulls.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from loopml.registry.packaging.signature import Signature

PROBE_ROWS = 5
MAX_PROBED_COLUMNS = 500  # beyond this, one probe with every column emptied at once
_TEXT_DTYPES = (pd.StringDtype, pd.CategoricalDtype)


@dataclass(frozen=True)
class ColumnFacts:
    """One column over the whole training data; `categories` None when unknown or too many."""

    nulls: int
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None


def facts_from_frame(frame: pd.DataFrame, max_categories: int) -> dict[str, ColumnFacts]:
    """The facts of every column of `frame`."""
    facts = {}
    for name in frame.columns:
        column = frame[name]
        nulls = int(column.isna().sum())
        low = high = None
        levels = None
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            present = column.dropna()
            if len(present):
                low, high = float(present.min()), float(present.max())
        elif column.dtype == object or isinstance(
            column.dtype, pd.StringDtype | pd.CategoricalDtype
        ):
            present = column.dropna()
            distinct = present.unique()
            if len(distinct) <= max_categories and 2 * len(distinct) <= len(present):
                levels = sorted(str(v) for v in distinct)
        facts[str(name)] = ColumnFacts(nulls, low, high, levels)
    return facts


def facts_from_profile(profile: Mapping[str, Any], rows: int) -> dict[str, ColumnFacts]:
    """The facts a dataset version's profile holds: nulls and ranges always; levels only
    when its top values cover every non-null row (few levels)."""
    facts = {}
    for name, stats in profile.items():
        nulls = int(stats.get("nulls", 0))
        low = high = None
        levels = None
        if stats.get("kind") == "numeric":
            low, high = _number(stats.get("min")), _number(stats.get("max"))
        top = stats.get("top")
        if isinstance(top, list) and top:
            covered = sum(int(item["count"]) for item in top)
            if covered == rows - nulls and 2 * len(top) <= covered:
                levels = sorted(str(item["value"]) for item in top)
        facts[str(name)] = ColumnFacts(nulls, low, high, levels)
    return facts


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def with_training_facts(signature: Signature, facts: Mapping[str, ColumnFacts]) -> Signature:
    """`signature` with nullability, ranges and levels of the columns `facts` knows."""
    inputs = []
    for spec in signature.inputs:
        fact = facts.get(spec.name)
        if fact is None:
            inputs.append(spec)
            continue
        changes: dict[str, Any] = {"training_nulls": fact.nulls, "nullable": fact.nulls > 0}
        if spec.type in ("float", "integer"):
            changes.update(minimum=fact.minimum, maximum=fact.maximum)
        if spec.type == "string":
            changes["categories"] = fact.categories
        inputs.append(replace(spec, **changes))
    return Signature(inputs, signature.outputs)


def probe_missing(predict: Callable[[pd.DataFrame], Any], example: pd.DataFrame) -> dict[str, bool]:
    """For each column of `example`, whether the model predicts (finite values) with it empty."""
    rows = example.head(PROBE_ROWS)
    if rows.empty:
        return {}
    names = [str(c) for c in rows.columns]
    if len(names) > MAX_PROBED_COLUMNS:
        takes = _predicts(predict, _emptied(rows, names))
        return dict.fromkeys(names, takes)
    return {name: _predicts(predict, _emptied(rows, [name])) for name in names}


def with_missing_probe(signature: Signature, takes: Mapping[str, bool]) -> Signature:
    """`signature` whose columns accept nulls exactly when the model was seen to take them."""
    inputs = [
        spec
        if spec.name not in takes
        else replace(spec, nullable=takes[spec.name], model_takes_missing=takes[spec.name])
        for spec in signature.inputs
    ]
    return Signature(inputs, signature.outputs)


def _emptied(rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    copy = rows.copy()
    for name in names:
        column = copy[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            copy[name] = np.nan
        elif isinstance(column.dtype, pd.CategoricalDtype):
            copy[name] = pd.Categorical([None] * len(copy), dtype=column.dtype)
        else:
            copy[name] = pd.Series([None] * len(copy), index=copy.index, dtype=object)
    return copy


def _predicts(predict: Callable[[pd.DataFrame], Any], rows: pd.DataFrame) -> bool:
    """Whether `predict` answers `rows` with values that are not NaN. Any error means no: a
    model that cannot take a null raises in its own way (ValueError, TypeError, …)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(predict(rows))
    except Exception:
        return False
    if out.dtype.kind in "fc":
        return bool(np.all(np.isfinite(out)))
    return out.size > 0 and not pd.isna(out).any()
