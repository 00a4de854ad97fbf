"""ONNX graphs (an `onnx.ModelProto` or its serialized bytes), run with onnxruntime.

Kept deliberately simple: the graph takes one float32 matrix. A DataFrame is fed as its
columns in signature order (after `Signature.coerce`), cast to float32; an array as is.
The first output is the prediction; a second one, when present, the class probabilities
(skl2onnx's layout for classifiers, with or without its ZipMap of dictionaries).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging.flavors.base import Array, Capabilities, optional_module

onnxruntime = optional_module("onnxruntime")  # the `onnx` extra; only this flavor needs it

ONNX_FILE = "model.onnx"


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
        self._input = session.get_inputs()[0].name
        self.has_proba = len(session.get_outputs()) >= 2

    def _run(self, X: Any) -> list[Any]:
        matrix = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else X
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        return list(self.raw.run(None, {self._input: matrix}))

    def predict(self, X: Any) -> Array:
        out = np.asarray(self._run(X)[0])
        return out.ravel() if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, X: Any) -> Array:
        proba = self._run(X)[1]
        if isinstance(proba, list) and proba and isinstance(proba[0], dict):  # ZipMap output
            labels = sorted(proba[0])
            return np.array([[row[label] for label in labels] for row in proba])
        return np.asarray(proba)


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
        new_session(data)  # refuse a graph that could not be served, before writing it
        (folder / ONNX_FILE).write_bytes(data)
        return {"file": ONNX_FILE, "format": "onnx", "runtime": "onnxruntime"}

    def has_proba(self, model: object) -> bool:
        data = onnx_bytes(model)
        return data is not None and len(new_session(data).get_outputs()) >= 2

    def packages(self, model: object) -> list[str]:
        return ["onnxruntime", "numpy"]

    def load(self, folder: Path, loader: Mapping[str, str]) -> OnnxPredictor:
        return OnnxPredictor(new_session((folder / loader["file"]).read_bytes()))
