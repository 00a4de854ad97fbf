"""Any picklable Python object with `predict` (and maybe `predict_proba`), stored with joblib.

The object's class must be importable where the model is loaded (pickle stores its name,
not its code): define it in a module, not in a notebook cell or `__main__`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loopml.registry.packaging.flavors.base import Array, Capabilities, dump_joblib, load_joblib
from loopml.registry.packaging.requirements import distribution_of

BASE_PACKAGES = ["numpy", "pandas", "joblib"]


class PythonPredictor:
    """Passes inputs through unchanged; the object decides what it accepts."""

    def __init__(self, model: Any) -> None:
        self.raw = model

    def predict(self, X: Any) -> Array:
        return np.asarray(self.raw.predict(X))

    def predict_proba(self, X: Any) -> Array:
        return np.asarray(self.raw.predict_proba(X))

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        """Two calls: nothing says how this object's labels relate to its probabilities."""
        return self.predict(X), self.predict_proba(X)

    def for_arrays(self, names: list[str]) -> None:
        return None


class PythonFlavor:
    name = "python"
    capabilities = Capabilities(accepts_arrays=False, exportable_to_onnx=False)

    def matches(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: object, folder: Path) -> dict[str, str]:
        return dump_joblib(model, folder)

    def has_proba(self, model: object) -> bool:
        return callable(getattr(model, "predict_proba", None))

    def packages(self, model: object) -> list[str]:
        own = distribution_of(type(model))
        return BASE_PACKAGES + ([own] if own else [])

    def wrap(self, model: object) -> PythonPredictor:
        return PythonPredictor(model)

    def load(self, folder: Path, loader: Mapping[str, str]) -> PythonPredictor:
        return PythonPredictor(load_joblib(folder, loader))
