"""ONNX graphs (an `onnx.ModelProto` or its serialized bytes), run with onnxruntime.

The graph takes one float matrix (float32 or float64, as its input declares). A DataFrame
is fed as its columns in signature order (after `Signature.coerce`); an array as is. Two
output layouts are understood:

* converters' classifiers and regressors (skl2onnx, onnxmltools): the first output is the
  prediction; a second one, when present, the class probabilities (with or without a
  ZipMap of dictionaries);
* a neural network (exported from PyTorch, Keras, …) with one output: a regression value
  per row, or, for a classifier, one score per class. A classifier says so in the graph's
  metadata (`label_network` sets it): `loopml.classes` (a JSON list of class labels, in
  output order) and `loopml.scores` (`probabilities`, or `logits`, turned into
  probabilities with a softmax — or a sigmoid for a single column of two classes).

Labels and probabilities always come from one run of the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import Array, Capabilities, optional_module

onnxruntime = optional_module("onnxruntime")  # the `onnx` extra; only this flavor needs it

ONNX_FILE = "model.onnx"
CLASSES_KEY = "loopml.classes"
SCORES_KEY = "loopml.scores"
SCORE_KINDS = ("probabilities", "logits")
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def onnx_bytes(model: object) -> bytes | None:
    """The serialized graph of a ModelProto or of raw bytes; None for anything else."""
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    if type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString"):
        return bytes(model.SerializeToString())
    return None


def new_session(data: bytes) -> Any:
    if onnxruntime is None:
        raise ValidationError("the onnx flavor needs onnxruntime: pip install 'loopml[onnx]'")
    try:
        return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ValidationError(f"onnxruntime cannot read this ONNX graph: {exc}") from exc


class OnnxPredictor:
    """One onnxruntime session; `raw` is the session itself."""

    def __init__(self, session: Any) -> None:
        self.raw = session
        first = session.get_inputs()[0]
        self._input = first.name
        self._dtype = _DTYPES.get(first.type, np.float32)
        meta = session.get_modelmeta().custom_metadata_map
        self.classes, self.scores = _network_outputs(meta)
        self.has_proba = len(session.get_outputs()) >= 2 or self.classes is not None

    def _run(self, X: Any) -> list[Any]:
        matrix = X.to_numpy(dtype=self._dtype) if isinstance(X, pd.DataFrame) else X
        matrix = np.asarray(matrix, dtype=self._dtype)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        return list(self.raw.run(None, {self._input: matrix}))

    def _both(self, X: Any) -> tuple[Array, Array | None]:
        outputs = self._run(X)
        if self.classes is not None:
            proba = _as_probabilities(np.asarray(outputs[0]), self.scores, len(self.classes))
            return self.classes.take(np.argmax(proba, axis=1)), proba
        out = np.asarray(outputs[0])
        labels = out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out
        if len(outputs) < 2:
            return labels, None
        proba = outputs[1]
        if isinstance(proba, list) and proba and isinstance(proba[0], dict):  # ZipMap output
            keys = sorted(proba[0])
            return labels, np.array([[row[key] for key in keys] for row in proba])
        return labels, np.asarray(proba)

    def predict(self, X: Any) -> Array:
        return self._both(X)[0]

    def predict_proba(self, X: Any) -> Array:
        return self.predict_both(X)[1]

    def predict_both(self, X: Any) -> tuple[Array, Array]:
        labels, proba = self._both(X)
        if proba is None:
            raise ValidationError("this ONNX graph has no probability output")
        return labels, proba

    def for_arrays(self, names: list[str]) -> None:
        return None


def _network_outputs(meta: Mapping[str, str]) -> tuple[Array | None, str]:
    """The class labels and score kind a network's metadata declares (None: not a classifier)."""
    if CLASSES_KEY not in meta:
        return None, ""
    try:
        classes = json.loads(meta[CLASSES_KEY])
    except ValueError as exc:
        raise ValidationError(f"the graph's {CLASSES_KEY} is not JSON: {exc}") from exc
    scores = meta.get(SCORES_KEY, "probabilities")
    if not isinstance(classes, list) or len(classes) < 2 or scores not in SCORE_KINDS:
        raise ValidationError(
            f"the graph's {CLASSES_KEY} must list at least two classes and {SCORES_KEY} be "
            f"one of {', '.join(SCORE_KINDS)}"
        )
    return np.asarray(classes), scores


def _as_probabilities(out: Array, scores: str, n_classes: int) -> Array:
    """A network's output as one probability per class (softmax/sigmoid of logits)."""
    out = out.astype(np.float64).reshape(len(out), -1)
    if out.shape[1] == 1 and n_classes == 2:  # one column: the score of the second class
        p = 1.0 / (1.0 + np.exp(-out[:, 0])) if scores == "logits" else out[:, 0]
        return np.column_stack([1.0 - p, p])
    if out.shape[1] != n_classes:
        raise ValidationError(
            f"the network returns {out.shape[1]} scores per row for {n_classes} classes"
        )
    if scores == "logits":
        shifted: Array = np.exp(out - out.max(axis=1, keepdims=True))
        result: Array = shifted / shifted.sum(axis=1, keepdims=True)
        return result
    return out


def _try_once(predictor: OnnxPredictor) -> None:
    """Score one row of zeros when the input width is known: a network whose outputs do
    not fit its declared classes is refused when it is saved, not when it is served."""
    shape = predictor.raw.get_inputs()[0].shape
    if predictor.classes is None or len(shape) != 2 or not isinstance(shape[1], int):
        return
    predictor.predict_both(np.zeros((1, shape[1])))


def label_network(model: Any, classes: list[Any], scores: str = "logits") -> Any:
    """Mark an ONNX network (a ModelProto) as a classifier over `classes`, whose single
    output holds `scores` ("logits" or "probabilities") in the order of `classes`."""
    if scores not in SCORE_KINDS:
        raise ValidationError(f"scores must be one of {', '.join(SCORE_KINDS)}, got {scores!r}")
    if len(classes) < 2:
        raise ValidationError("a classifier needs at least two classes")
    if type(model).__name__ != "ModelProto":
        raise ValidationError(f"label_network takes an onnx.ModelProto, got {type(model).__name__}")
    try:
        text = json.dumps([c.item() if isinstance(c, np.generic) else c for c in classes])
    except TypeError as exc:
        raise ValidationError(f"class labels must be JSON values: {exc}") from exc
    values = {CLASSES_KEY: text, SCORES_KEY: scores}
    kept = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


class OnnxFlavor:
    name = "onnx"
    capabilities = Capabilities(accepts_arrays=False, exportable_to_onnx=False)

    def matches(self, model: object) -> bool:
        return onnx_bytes(model) is not None

    def save(self, model: object, folder: Path) -> dict[str, str]:
        data = onnx_bytes(model)
        if data is None:
            raise ValidationError(
                f"the onnx flavor takes an onnx.ModelProto or bytes, got {type(model).__name__}"
            )
        _try_once(OnnxPredictor(new_session(data)))  # refuse a graph that could not be served
        (folder / ONNX_FILE).write_bytes(data)
        return {"file": ONNX_FILE, "format": "onnx", "runtime": "onnxruntime"}

    def has_proba(self, model: object) -> bool:
        data = onnx_bytes(model)
        return data is not None and OnnxPredictor(new_session(data)).has_proba

    def packages(self, model: object) -> list[str]:
        return ["onnxruntime", "numpy"]

    def wrap(self, model: object) -> OnnxPredictor:
        data = onnx_bytes(model)
        if data is None:
            raise ValidationError(f"not an ONNX graph: {type(model).__name__}")
        return OnnxPredictor(new_session(data))

    def load(self, folder: Path, loader: Mapping[str, str]) -> OnnxPredictor:
        return OnnxPredictor(new_session((folder / loader["file"]).read_bytes()))
