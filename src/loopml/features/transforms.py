"""On-demand transforms: one function, applied to columns of numpy arrays, offline on a whole
training set and online on each request, so both compute the very same values."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from loopml.errors import ValidationError
from loopml.features.definitions import OnDemandFeatureView, Transform
from loopml.import_paths import resolve_import_path


@lru_cache(maxsize=256)
def load_transform(path: str) -> Transform:
    function = resolve_import_path(path, "on-demand transform")
    if not callable(function):
        raise ValidationError(f"on-demand transform {path!r} is not callable")
    return function  # type: ignore[no-any-return]


def apply_transform(
    view: OnDemandFeatureView, columns: Mapping[str, np.ndarray], rows: int
) -> dict[str, np.ndarray]:
    """The view's features for `rows` rows, from request values and fetched features."""
    function = load_transform(view.function)
    try:
        result = function(columns)
    except Exception as exc:
        raise ValidationError(
            f"on-demand view {view.name!r}: its function {view.function} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, Mapping):
        raise ValidationError(
            f"on-demand view {view.name!r}: {view.function} must return a mapping of feature "
            f"name to values, got {type(result).__name__}"
        )
    out: dict[str, np.ndarray] = {}
    for feature in view.features:
        if feature.name not in result:
            raise ValidationError(
                f"on-demand view {view.name!r}: {view.function} returned no {feature.name!r} "
                f"(it returned {sorted(result)})"
            )
        values = np.asarray(result[feature.name])
        if values.ndim == 0:
            values = np.full(rows, values.item())
        if len(values) != rows:
            raise ValidationError(
                f"on-demand view {view.name!r}: {feature.name!r} has {len(values)} values for "
                f"{rows} rows"
            )
        out[feature.name] = values
    return out


def as_array(values: Any) -> np.ndarray:
    """Values as a numpy array with missing values as NaN (numbers) or None (others)."""
    array = np.asarray(values, dtype=object)
    try:
        return np.asarray([np.nan if v is None else v for v in array], dtype=float)
    except (TypeError, ValueError):
        return array
