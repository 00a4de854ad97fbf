"""XGBoost models, native `Booster` and the scikit-learn API, in XGBoost's own format.

Saved with `save_model` as UBJSON (no pickle: the file is data, readable by any XGBoost
release that reads the format), and read back into the same kind of object. A native
Booster answers by its objective: `binary:logistic` gives P(class 1), from which the
labels (`p > 0.5`, XGBClassifier's rule) and both columns of probabilities come;
`multi:softprob` gives one probability per class and the label is the most probable one;
any other objective (regression, ranking, `multi:softmax`…) gives one value per row.
Predictions use `inplace_predict`, which takes an ndarray or a DataFrame without building
a DMatrix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.registry.packaging.flavors.base import Array, Capabilities, optional_module
from loopml.registry.packaging.outcomes import argmax_classes, predict_both

xgb = optional_module("xgboost")  # the `xgboost` extra

MODEL_FILE = "model.ubj"
FORMAT = "xgboost-ubj"
PROBABILISTIC = ("binary:logistic", "multi:softprob")
SKLEARN_KINDS = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker")


def _need_xgboost() -> Any:
    if xgb is None:
        raise ValidationError("the xgboost flavor needs xgboost: pip install 'loopml[xgboost]'")
    return xgb


def objective_of(booster: Any) -> str:
    """The training objective recorded in a Booster's configuration."""
    config = json.loads(booster.save_config())
    return str(config["learner"]["objective"]["name"])


class BoosterPredictor:
    """A native Booster, interpreted by its objective."""

    def __init__(self, booster: Any) -> None:
        self.raw = booster
        self.objective = objective_of(booster)
        self.has_proba = self.objective in PROBABILISTIC
        names = booster.feature_names
        self.names: list[str] | None = None if names is None else list(names)
        types = booster.feature_types or []
        self.categorical = any(t == "c" for t in types)

    def _input(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            return X if self.names is None else X[self.names]
        return np.asarray(X, dtype=np.float64)

    def _raw_output(self, X: Any) -> Array:
        return np.asarray(self.raw.inplace_predict(self._input(X)))

    def _both(self, X: Any) -> tuple[Array, Array | None]:
        out = self._raw_output(X)
        if self.objective == "binary:logistic":
            p = out.ravel()
            return (p > 0.5).astype(np.int64), np.column_stack([1.0 - p, p])
        if self.objective == "multi:softprob":
            return np.argmax(out, axis=1), out
        return (out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out), None

    def predict(self, X: Any) -> Array:
        return self._both(X)[0]

    def predict_proba(self, X: Any) -> Array:
        proba = self._both(X)[1]
        if proba is None:
            raise ValidationError(
                f"an XGBoost model trained for {self.objective} has no probabilities"
            )
        return proba

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        labels, proba = self._both(X)
        if proba is None:
            raise ValidationError(
                f"an XGBoost model trained for {self.objective} has no probabilities"
            )
        return labels, proba

    def _no_proba(self) -> str:
        return f"an XGBoost model trained for {self.objective} has no probabilities"

    def for_arrays(self, names: list[str]) -> BoosterPredictor | None:
        if self.categorical or (self.names is not None and self.names != names):
            return None
        return self


class XGBSklearnPredictor:
    """An XGBClassifier/XGBRegressor…: its own predict, one call for labels and probabilities."""

    def __init__(self, model: Any) -> None:
        self.raw = model
        self._classes = argmax_classes(model)
        names = getattr(model, "feature_names_in_", None)
        self.names: list[str] | None = None if names is None else [str(n) for n in names]

    def _input(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame) or self.names is None:
            return X
        return pd.DataFrame(np.asarray(X), columns=self.names)  # fitted on a frame

    def predict(self, X: Any) -> Array:
        return np.asarray(self.raw.predict(self._input(X)))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(self.raw.predict_proba(self._input(X)))

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        return predict_both(self.raw, self._input(X), self._classes)

    def for_arrays(self, names: list[str]) -> BoosterArrays | None:
        """The fitted booster fed arrays directly, when the sklearn wrapper adds nothing."""
        booster = self.raw.get_booster()
        if self.names is not None and self.names != names:
            return None
        if any(t == "c" for t in booster.feature_types or []):
            return None
        return BoosterArrays(self)


class BoosterArrays:
    """The sklearn wrapper's answers computed from float matrices, skipping its DataFrame."""

    def __init__(self, inner: XGBSklearnPredictor) -> None:
        self.raw = inner.raw
        self._inner = inner

    def predict(self, X: Any) -> Array:
        return np.asarray(self.raw.predict(np.asarray(X, dtype=np.float64)))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(self.raw.predict_proba(np.asarray(X, dtype=np.float64)))

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        return predict_both(self.raw, np.asarray(X, dtype=np.float64), self._inner._classes)

    def for_arrays(self, names: list[str]) -> BoosterArrays:
        return self


class XGBoostFlavor:
    name = "xgboost"
    capabilities = Capabilities(accepts_arrays=True, exportable_to_onnx=True)

    def matches(self, model: object) -> bool:
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def save(self, model: object, folder: Path) -> dict[str, str]:
        lib = _need_xgboost()
        if not isinstance(model, lib.Booster | lib.XGBModel):
            raise ValidationError(
                f"the xgboost flavor takes a Booster or an XGBModel, got {type(model).__name__}"
            )
        model.save_model(str(folder / MODEL_FILE))
        api = "booster" if isinstance(model, lib.Booster) else type(model).__name__
        return {"file": MODEL_FILE, "format": FORMAT, "api": api}

    def has_proba(self, model: object) -> bool:
        lib = _need_xgboost()
        if isinstance(model, lib.Booster):
            return objective_of(model) in PROBABILISTIC
        return hasattr(model, "predict_proba")

    def packages(self, model: object) -> list[str]:
        base = ["xgboost", "numpy", "pandas"]
        return base if type(model).__name__ == "Booster" else [*base, "scikit-learn"]

    def wrap(self, model: object) -> BoosterPredictor | XGBSklearnPredictor:
        lib = _need_xgboost()
        return (
            BoosterPredictor(model)
            if isinstance(model, lib.Booster)
            else XGBSklearnPredictor(model)
        )

    def load(
        self, folder: Path, loader: Mapping[str, str]
    ) -> BoosterPredictor | XGBSklearnPredictor:
        lib = _need_xgboost()
        api = loader.get("api")
        if loader.get("format") != FORMAT or (api != "booster" and api not in SKLEARN_KINDS):
            raise ArtifactCorruptedError(
                f"the manifest in {folder} gives format {loader.get('format')!r} / api "
                f"{api!r} for an xgboost model; the folder was modified after it was saved"
            )
        path = str(folder / loader["file"])
        if api == "booster":
            return BoosterPredictor(lib.Booster(model_file=path))
        model = getattr(lib, api)()
        model.load_model(path)
        return XGBSklearnPredictor(model)
