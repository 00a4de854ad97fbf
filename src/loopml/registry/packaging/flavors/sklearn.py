"""scikit-learn estimators and pipelines, stored with joblib.

For serving, `for_arrays` hands out a predictor fed a float ndarray in signature order (no
pandas: ~1 ms saved per call on 30 columns). That covers models fitted without feature
names and plain estimators (trees, ensembles, linear models…) fitted on a DataFrame whose
columns are exactly the signature's: for those, feature names only guard the column
order, which the signature check already fixed, so a shallow copy without
`feature_names_in_` is used. Pipelines and everything else keep their DataFrame.

Models imported from MLflow (mlflow_format.py) keep MLflow's file: a pickle or cloudpickle
stream, read like joblib's after the folder's hashes are verified, or a skops file, read
with skops (installed separately) trusting only scikit-learn, NumPy and SciPy types.

scikit-learn checks every input for NaN and infinity; on a small float array that check
costs about a third of a tree ensemble's predict call. The predictor checks the whole
array at once with numpy and, when every value is finite, tells scikit-learn to skip its
own check (`assume_finite`): the answers are the same, and a NaN still reaches the
model's own refusal.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import (
    Array,
    Capabilities,
    dump_joblib,
    load_joblib,
    optional_module,
)
from loopml.registry.packaging.outcomes import argmax_classes, predict_both
from loopml.registry.packaging.requirements import distribution_of

# Estimators that use feature names only to check them (no column selection by name).
ARRAY_SAFE = (
    "sklearn.ensemble._gb",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.tree",
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.naive_bayes",
)
BASE_PACKAGES = ["scikit-learn", "numpy", "scipy", "pandas", "joblib"]
PICKLES = ("pickle", "cloudpickle")  # MLflow's names for a plain pickle stream
SKOPS_TRUSTED = ("sklearn.", "numpy.", "scipy.", "builtins.")


class SklearnPredictor:
    """Feeds the model what it was fitted on: a frame if it knows feature names, else arrays."""

    def __init__(self, model: Any) -> None:
        self.raw = model
        names = getattr(model, "feature_names_in_", None)
        self._names: list[str] | None = None if names is None else [str(n) for n in names]
        self._classes = argmax_classes(model)

    def _shape(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            return X if self._names is not None else X.to_numpy()
        array = np.asarray(X)
        if self._names is not None and array.ndim == 2 and array.shape[1] == len(self._names):
            return pd.DataFrame(array, columns=self._names)
        return array

    def predict(self, X: Any) -> Array:
        return np.asarray(_checked_once(self.raw.predict, self._shape(X)))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(_checked_once(self.raw.predict_proba, self._shape(X)))

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        shaped = self._shape(X)
        both: tuple[Array, Array] = _checked_once(
            lambda x: predict_both(self.raw, x, self._classes), shaped
        )
        return both

    def for_arrays(self, names: list[str]) -> SklearnPredictor | None:
        raw = self.raw
        if self._names is None:
            return self
        if self._names != names or not type(raw).__module__.startswith(ARRAY_SAFE):
            return None
        stripped = copy.copy(raw)  # shallow: the fitted trees and coefficients are shared
        del stripped.feature_names_in_
        return SklearnPredictor(stripped)


def _checked_once(call: Callable[[Any], Any], X: Any) -> Any:
    """`call(X)`, with scikit-learn's finiteness check skipped when numpy has just found
    every value of a float array finite."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and np.isfinite(X).all():
        with config_context(assume_finite=True):
            return call(X)
    return call(X)


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

    def wrap(self, model: object) -> SklearnPredictor:
        return SklearnPredictor(model)

    def load(self, folder: Path, loader: Mapping[str, str]) -> SklearnPredictor:
        form = loader.get("format")
        if form in PICKLES:
            with (folder / loader["file"]).open("rb") as stream:
                return SklearnPredictor(pickle.load(stream))  # the files were verified first
        if form == "skops":
            return SklearnPredictor(_load_skops(folder / loader["file"]))
        return SklearnPredictor(load_joblib(folder, loader))


def _load_skops(path: Path) -> Any:
    """A skops file, refusing any type outside scikit-learn, NumPy and SciPy."""
    skops = optional_module("skops.io")
    if skops is None:
        raise ValidationError(
            f"{path.name} was saved by MLflow in the skops format; install skops to load it "
            "(pip install skops), or log the model with serialization_format='cloudpickle'"
        )
    untrusted = [str(t) for t in skops.get_untrusted_types(file=path)]
    refused = [t for t in untrusted if not t.startswith(SKOPS_TRUSTED)]
    if refused:
        raise ValidationError(
            f"{path.name} holds types loopml does not trust: {', '.join(refused)}; only "
            "scikit-learn, NumPy and SciPy objects are loaded from skops files"
        )
    return skops.load(path, trusted=untrusted)
