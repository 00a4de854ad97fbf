"""scikit-learn estimators and pipelines, stored with joblib."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from loopml.registry.packaging.flavors.base import Array, Capabilities, dump_joblib, load_joblib
from loopml.registry.packaging.requirements import distribution_of

BASE_PACKAGES = ["scikit-learn", "numpy", "scipy", "pandas", "joblib"]


class SklearnPredictor:
    """Feeds the model what it was fitted on: a frame if it knows feature names, else arrays."""

    def __init__(self, model: Any) -> None:
        self.raw = model
        names = getattr(model, "feature_names_in_", None)
        self._names: list[str] | None = None if names is None else [str(n) for n in names]

    def _shape(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            return X if self._names is not None else X.to_numpy()
        array = np.asarray(X)
        if self._names is not None and array.ndim == 2 and array.shape[1] == len(self._names):
            return pd.DataFrame(array, columns=self._names)
        return array

    def predict(self, X: Any) -> Array:
        return np.asarray(self.raw.predict(self._shape(X)))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(self.raw.predict_proba(self._shape(X)))


class SklearnFlavor:
    name = "sklearn"
    capabilities = Capabilities(accepts_arrays=True, exportable_to_onnx=True)

    def matches(self, model: object) -> bool:
        return isinstance(model, BaseEstimator)

    def save(self, model: object, folder: Path) -> dict[str, str]:
        return dump_joblib(model, folder)

    def has_proba(self, model: object) -> bool:
        return hasattr(model, "predict_proba")  # False for a Pipeline whose last step has none

    def packages(self, model: object) -> list[str]:
        """The base stack plus the distributions of every nested estimator (e.g. xgboost)."""
        parts: list[object] = [model]
        if isinstance(model, BaseEstimator):
            parts += [
                v for v in model.get_params(deep=True).values() if isinstance(v, BaseEstimator)
            ]
        found = [distribution_of(type(part)) for part in parts]
        return BASE_PACKAGES + [name for name in found if name is not None]

    def load(self, folder: Path, loader: Mapping[str, str]) -> SklearnPredictor:
        return SklearnPredictor(load_joblib(folder, loader))
