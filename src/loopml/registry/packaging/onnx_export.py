"""`export_onnx` and `onnx_parity`: convert a model and prove the copy agrees.

scikit-learn models convert with skl2onnx, XGBoost and LightGBM models (boosters and their
scikit-learn API) with onnxmltools, the converters made for each. `loopml export` serves
the ONNX graph only if `onnx_parity` on held-out rows stays under a tolerance; float32
inputs make tiny differences normal, wrong conversions show as large ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import optional_module
from loopml.registry.packaging.flavors.onnx import OnnxPredictor, new_session
from loopml.registry.packaging.load import LoadedModel
from loopml.registry.packaging.signature import Signature

skl2onnx = optional_module("skl2onnx")  # the `onnx` extra
data_types = optional_module("skl2onnx.common.data_types")
onnxmltools = optional_module("onnxmltools")  # the `xgboost` and `lightgbm` extras
mltypes = optional_module("onnxmltools.convert.common.data_types")
BOOSTER_OPSET = 15

_NUMERIC = ("float", "integer", "boolean")


def export_onnx(model: Any, signature_or_example: Signature | pd.DataFrame | Any) -> bytes:
    """The model as a serialized ONNX graph taking one float32 matrix [rows, n_features].

    Classifiers output labels and a plain probability matrix (no ZipMap). Every input
    column must be numeric: encode strings and categories inside the pipeline first.
    """
    if skl2onnx is None or data_types is None:
        raise ValidationError("ONNX export needs skl2onnx: pip install 'loopml[onnx]'")
    n_features = _n_features(signature_or_example)
    library = type(model).__module__.split(".", 1)[0]
    if library in ("xgboost", "lightgbm"):
        return _convert_booster(model, library, n_features)
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


def _convert_booster(model: Any, library: str, n_features: int) -> bytes:
    """An XGBoost or LightGBM model through onnxmltools (probabilities without ZipMap)."""
    if onnxmltools is None or mltypes is None:
        raise ValidationError(
            f"ONNX export of {library} models needs onnxmltools: pip install 'loopml[{library}]'"
        )
    tensor = mltypes.FloatTensorType([None, n_features])
    try:
        if library == "xgboost":
            booster = model.get_booster() if hasattr(model, "get_booster") else model
            plain = booster.copy()
            plain.feature_names = None  # the converter reads features as f0, f1, …
            graph = onnxmltools.convert_xgboost(
                plain, initial_types=[("input", tensor)], target_opset=BOOSTER_OPSET
            )
        else:
            graph = onnxmltools.convert_lightgbm(
                model, initial_types=[("input", tensor)], target_opset=BOOSTER_OPSET, zipmap=False
            )
    except Exception as exc:  # the converters raise many unrelated types
        raise ValidationError(f"cannot export this {type(model).__name__} to ONNX: {exc}") from exc
    return bytes(graph.SerializeToString())


def onnx_parity(model: Any, onnx_model: bytes, X: pd.DataFrame | Any) -> float:
    """The largest absolute difference between `model` and its ONNX copy on `X`.

    `model` is a loaded model of any flavor, or a scikit-learn estimator. Regression
    outputs and probabilities are compared as numbers; class labels count 1.0 for each row
    where they differ (a label's numeric distance means nothing).
    """
    converted = OnnxPredictor(new_session(onnx_model))
    matrix = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(X)
    if isinstance(model, LoadedModel):
        labels, proba = model.predict_both(X)
        if not model.has_proba:
            return _max_abs(labels, converted.predict(matrix))
        got_labels, got_proba = converted.predict_both(matrix)
        worst = float(np.any(np.asarray(labels).ravel() != np.asarray(got_labels).ravel()))
        return max(worst, _max_abs(proba, got_proba))
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
