"""`export_onnx` and `onnx_parity`: convert a scikit-learn model and prove the copy agrees.

`loopml export` serves the ONNX graph only if `onnx_parity` on held-out rows stays under a
tolerance; float32 inputs make tiny differences normal, wrong conversions show as large ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import optional_module
from loopml.registry.packaging.flavors.onnx import OnnxPredictor, new_session
from loopml.registry.packaging.signature import Signature

skl2onnx = optional_module("skl2onnx")  # the `onnx` extra
data_types = optional_module("skl2onnx.common.data_types")

_NUMERIC = ("float", "integer", "boolean")


def export_onnx(model: Any, signature_or_example: Signature | pd.DataFrame | Any) -> bytes:
    """The model as a serialized ONNX graph taking one float32 matrix [rows, n_features].

    Classifiers output labels and a plain probability matrix (no ZipMap). Every input
    column must be numeric: encode strings and categories inside the pipeline first.
    """
    if skl2onnx is None or data_types is None:
        raise ValidationError("ONNX export needs skl2onnx: pip install 'loopml[onnx]'")
    n_features = _n_features(signature_or_example)
    try:
        tensor = data_types.FloatTensorType([None, n_features])
        graph = skl2onnx.convert_sklearn(
            model,
            initial_types=[("input", tensor)],
            options={"zipmap": False} if is_classifier(model) else None,
        )
    except Exception as exc:  # skl2onnx raises many unrelated types for unsupported models
        raise ValidationError(f"cannot export this {type(model).__name__} to ONNX: {exc}") from exc
    return bytes(graph.SerializeToString())


def onnx_parity(model: Any, onnx_model: bytes, X: pd.DataFrame | Any) -> float:
    """The largest absolute difference between `model` and its ONNX copy on `X`.

    Regression outputs and probabilities are compared as numbers; class labels count 1.0
    for each row where they differ (a label's numeric distance means nothing).
    """
    converted = OnnxPredictor(new_session(onnx_model))
    matrix = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(X)
    if isinstance(X, pd.DataFrame) and not hasattr(model, "feature_names_in_"):
        X = X.to_numpy()  # fitted on an array: give it one, as at training time
    expected = np.asarray(model.predict(X))
    got = converted.predict(matrix)
    if is_classifier(model):
        worst = float(np.any(expected.ravel() != got.ravel()))
    else:
        worst = _max_abs(expected, got)
    if hasattr(model, "predict_proba") and converted.has_proba:
        worst = max(worst, _max_abs(model.predict_proba(X), converted.predict_proba(matrix)))
    return worst


def _max_abs(a: Any, b: Any) -> float:
    left = np.asarray(a, dtype=np.float64).ravel()
    right = np.asarray(b, dtype=np.float64).ravel()
    if left.shape != right.shape:
        raise ValidationError(
            f"the ONNX graph returns {right.size} values where the model returns {left.size}"
        )
    return float(np.max(np.abs(left - right))) if left.size else 0.0


def _n_features(source: Any) -> int:
    if isinstance(source, Signature):
        odd = [s.name for s in source.inputs if s.type not in _NUMERIC]
        if odd:
            raise ValidationError(
                f"ONNX export takes numeric inputs only; {', '.join(map(repr, odd))} "
                "are not: encode them inside the pipeline or drop them"
            )
        return len(source.inputs)
    shape = np.shape(source)
    if len(shape) != 2:
        raise ValidationError(
            "export_onnx needs a Signature, or an example DataFrame or 2-D array, "
            f"got shape {shape}"
        )
    return int(shape[1])
