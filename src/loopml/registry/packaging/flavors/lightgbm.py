"""LightGBM models: a native `Booster` as LightGBM's text model, the scikit-learn API with joblib.

A Booster is written with `model_to_string` (plain text, no pickle) and answers by its
objective: `binary` gives P(class 1), hence labels (`p > 0.5`) and two probability
columns; `multiclass` gives one probability per class, the label being the most probable;
anything else (regression, ranking, `multiclassova`…) one value per row. The scikit-learn
wrappers (LGBMClassifier…) keep their label encoding and settings only in the Python
object, so they are stored with joblib, as LightGBM recommends, and loaded only after the
files are verified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.registry.packaging.flavors.base import (
    Array,
    Capabilities,
    dump_joblib,
    load_joblib,
    optional_module,
)
from loopml.registry.packaging.outcomes import argmax_classes, predict_both

lgb = optional_module("lightgbm")  # the `lightgbm` extra

MODEL_FILE = "model.txt"
FORMAT = "lightgbm-text"
_UNSAFE = re.compile(r"[\s\",:\[\]{}]")


def _need_lightgbm() -> Any:
    if lgb is None:
        raise ValidationError("the lightgbm flavor needs lightgbm: pip install 'loopml[lightgbm]'")
    return lgb


def _plain(names: list[str]) -> list[str]:
    """Names as LightGBM keeps them (it turns spaces and JSON characters into '_')."""
    return [_UNSAFE.sub("_", str(n)) for n in names]


def objective_of(booster: Any) -> str:
    """The objective's name (`binary`, `multiclass`, `regression`…) from the model dump."""
    return str(booster.dump_model(num_iteration=0).get("objective", "")).split(" ", 1)[0]


class LGBBoosterPredictor:
    """A native Booster, interpreted by its objective."""

    def __init__(self, booster: Any) -> None:
        self.raw = booster
        self.objective = objective_of(booster)
        self.has_proba = self.objective in ("binary", "multiclass")
        self.names = list(booster.feature_name())
        self.categorical = bool(getattr(booster, "pandas_categorical", None))

    def _both(self, X: Any) -> tuple[Array, Array | None]:
        data = X if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float64)
        out = np.asarray(self.raw.predict(data))
        if self.objective == "binary":
            p = out.ravel()
            return (p > 0.5).astype(np.int64), np.column_stack([1.0 - p, p])
        if self.objective == "multiclass":
            return np.argmax(out, axis=1), out
        return out, None

    def predict(self, X: Any) -> Array:
        return self._both(X)[0]

    def predict_proba(self, X: Any) -> Array:
        return self.predict_both(X)[1]

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        labels, proba = self._both(X)
        if proba is None:
            raise ValidationError(
                f"a LightGBM model trained for {self.objective} has no probabilities"
            )
        return labels, proba

    def for_arrays(self, names: list[str]) -> LGBBoosterPredictor | None:
        if self.categorical or _plain(self.names) != _plain(names):
            return None
        return self


class LGBSklearnPredictor:
    """An LGBMClassifier/LGBMRegressor…; labels come from its probabilities (one call)."""

    def __init__(self, model: Any) -> None:
        self.raw = model
        self._classes = argmax_classes(model)
        names = getattr(model, "feature_names_in_", None)
        self.names: list[str] | None = None if names is None else [str(n) for n in names]

    def predict(self, X: Any) -> Array:
        return np.asarray(self.raw.predict(X))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(self.raw.predict_proba(X))

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        return predict_both(self.raw, X, self._classes)

    def for_arrays(self, names: list[str]) -> LGBSklearnArrays | None:
        booster = self.raw.booster_
        if getattr(booster, "pandas_categorical", None):
            return None
        if self.names is not None and _plain(self.names) != _plain(names):
            return None
        return LGBSklearnArrays(self.raw)


class LGBSklearnArrays:
    """The wrapper's answers from its booster fed float matrices by position (the wrapper
    would warn on every call that an array has no feature names)."""

    def __init__(self, model: Any) -> None:
        self.raw = model
        self._booster = model.booster_
        classes = getattr(model, "classes_", None)
        self._classes = None if classes is None else np.asarray(classes)

    def _out(self, X: Any) -> Array:
        return np.asarray(self._booster.predict(np.asarray(X, dtype=np.float64)))

    def predict(self, X: Any) -> Array:
        return self.predict_both(X)[0] if self._classes is not None else self._out(X)

    def predict_proba(self, X: Any) -> Array:
        return self.predict_both(X)[1]

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        """LGBMClassifier's own rule: classes_[argmax] of [1 - p, p] or of the softmax."""
        if self._classes is None:
            raise ValidationError("this LightGBM model is not a classifier")
        out = self._out(X)
        proba = np.column_stack([1.0 - out, out]) if out.ndim == 1 else out
        return self._classes.take(np.argmax(proba, axis=1)), proba

    def for_arrays(self, names: list[str]) -> LGBSklearnArrays:
        return self


class LightGBMFlavor:
    name = "lightgbm"
    capabilities = Capabilities(accepts_arrays=True, exportable_to_onnx=True)

    def matches(self, model: object) -> bool:
        return lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel)

    def save(self, model: object, folder: Path) -> dict[str, str]:
        lib = _need_lightgbm()
        if isinstance(model, lib.Booster):
            (folder / MODEL_FILE).write_text(model.model_to_string())
            return {"file": MODEL_FILE, "format": FORMAT, "api": "booster"}
        if isinstance(model, lib.LGBMModel):
            return {**dump_joblib(model, folder), "api": "sklearn"}
        raise ValidationError(
            f"the lightgbm flavor takes a Booster or an LGBMModel, got {type(model).__name__}"
        )

    def has_proba(self, model: object) -> bool:
        lib = _need_lightgbm()
        if isinstance(model, lib.Booster):
            return objective_of(model) in ("binary", "multiclass")
        return hasattr(model, "predict_proba")

    def packages(self, model: object) -> list[str]:
        base = ["lightgbm", "numpy", "pandas"]
        return base if type(model).__name__ == "Booster" else [*base, "scikit-learn", "joblib"]

    def wrap(self, model: object) -> LGBBoosterPredictor | LGBSklearnPredictor:
        lib = _need_lightgbm()
        if isinstance(model, lib.Booster):
            return LGBBoosterPredictor(model)
        return LGBSklearnPredictor(model)

    def load(
        self, folder: Path, loader: Mapping[str, str]
    ) -> LGBBoosterPredictor | LGBSklearnPredictor:
        lib = _need_lightgbm()
        api = loader.get("api")
        if api == "sklearn":
            return LGBSklearnPredictor(load_joblib(folder, loader))
        if api != "booster" or loader.get("format") != FORMAT:
            raise ArtifactCorruptedError(
                f"the manifest in {folder} gives format {loader.get('format')!r} / api "
                f"{api!r} for a lightgbm model; the folder was modified after it was saved"
            )
        text = (folder / loader["file"]).read_text()
        return LGBBoosterPredictor(lib.Booster(model_str=text))
