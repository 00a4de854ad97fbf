"""export_onnx, onnx_parity, and the onnx flavor (needs the `onnx` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from loopml.errors import ValidationError
from loopml.registry.packaging import (
    ColumnSpec,
    Signature,
    export_onnx,
    infer_signature,
    load_model,
    onnx_parity,
    save_model,
)
from tests.registry.packaging.helpers import RecordingModel

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'loopml[onnx]'")

Data = tuple[pd.DataFrame, pd.Series]


@pytest.mark.parametrize("model_name", ["cancer_gb", "cancer_logreg"])
def test_classifiers_convert_with_parity(
    model_name: str, cancer: Data, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(model_name)
    X, _ = cancer
    data = export_onnx(model, infer_signature(X))
    assert onnx_parity(model, data, X) < 1e-4


def test_regressor_parity_is_measured_in_target_units(
    diabetes: Data, diabetes_ridge: Ridge
) -> None:
    X, y = diabetes
    parity = onnx_parity(diabetes_ridge, export_onnx(diabetes_ridge, X), X)
    assert 0 < parity < 1e-3 * float(y.abs().max())  # float32 rounding, nothing more


def test_parity_exposes_a_wrong_graph(
    cancer: Data, cancer_gb: GradientBoostingClassifier, cancer_logreg: Pipeline
) -> None:
    X, _ = cancer
    other = export_onnx(cancer_gb, X.to_numpy())
    assert onnx_parity(cancer_logreg, other, X) > 0.1


def test_non_numeric_inputs_are_refused(cancer_logreg: Pipeline) -> None:
    signature = Signature([ColumnSpec("region", "category"), ColumnSpec("age", "float")])
    with pytest.raises(ValidationError, match="numeric inputs only; 'region'"):
        export_onnx(cancer_logreg, signature)
    with pytest.raises(ValidationError, match="2-D array"):
        export_onnx(cancer_logreg, np.zeros(3))


def test_unconvertible_models_are_refused() -> None:
    with pytest.raises(ValidationError, match="cannot export this RecordingModel to ONNX"):
        export_onnx(RecordingModel(), np.zeros((2, 3)))


@pytest.mark.parametrize("as_proto", [False, True])
def test_onnx_roundtrip(
    tmp_path: Path, cancer: Data, cancer_logreg: Pipeline, as_proto: bool
) -> None:
    X, _ = cancer
    data = export_onnx(cancer_logreg, X)
    model = onnx.load_from_string(data) if as_proto else data
    manifest = save_model(model, tmp_path / "m", signature=infer_signature(X))
    assert manifest.flavor == "onnx" and manifest.has_proba
    assert list(manifest.files) == ["model.onnx"]
    loaded = load_model(tmp_path / "m")
    assert np.array_equal(loaded.predict(X), cancer_logreg.predict(X))
    assert np.abs(loaded.predict_proba(X) - cancer_logreg.predict_proba(X)).max() < 1e-4
    shuffled = X[X.columns[::-1]]  # the signature puts the columns back in order
    assert np.array_equal(loaded.predict(shuffled), loaded.predict(X.to_numpy()))
