"""save_model / load_model roundtrips for every flavor, and what the manifest records."""

from __future__ import annotations

import json
import platform
from datetime import datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from loopml.artifacts.hashing import hash_file
from loopml.errors import ValidationError
from loopml.registry.packaging import (
    MANIFEST_NAME,
    infer_signature,
    load_model,
    read_manifest,
    save_model,
)
from tests.registry.packaging.helpers import Unpicklable, WrappedClassifier

Data = tuple[pd.DataFrame, pd.Series]


def test_sklearn_roundtrip_is_identical(
    tmp_path: Path, mixed: Data, mixed_pipeline: Pipeline
) -> None:
    X, _ = mixed
    signature = infer_signature(X, mixed_pipeline.predict(X))
    manifest = save_model(mixed_pipeline, tmp_path / "m", signature=signature, input_example=X)
    loaded = load_model(tmp_path / "m")
    assert (manifest.flavor, loaded.flavor, loaded.has_proba) == ("sklearn", "sklearn", True)
    assert np.array_equal(loaded.predict(X), mixed_pipeline.predict(X))
    assert np.array_equal(loaded.predict_proba(X), mixed_pipeline.predict_proba(X))
    assert loaded.signature == signature
    assert isinstance(loaded.raw, Pipeline)
    assert loaded.manifest == manifest


def test_manifest_records_files_environment_and_example(
    tmp_path: Path, cancer: Data, cancer_logreg: Pipeline
) -> None:
    X, _ = cancer
    save_model(cancer_logreg, tmp_path / "m", input_example=X, metadata={"team": "risk"})
    data = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    model_file = tmp_path / "m" / "model.joblib"
    assert data["files"] == {
        "model.joblib": {"blake3": hash_file(model_file), "size": model_file.stat().st_size}
    }
    assert data["loader"] == {"file": "model.joblib", "format": "joblib"}
    assert data["format_version"] == 1 and data["has_proba"] is True
    assert f"scikit-learn=={sklearn.__version__}" in data["requirements"]
    assert f"numpy=={np.__version__}" in data["requirements"]
    assert data["python_version"] == platform.python_version()
    assert datetime.fromisoformat(data["created_at"]).tzinfo is not None
    assert len(data["input_example"]) == 5
    assert data["input_example"][0]["mean radius"] == X["mean radius"].iloc[0]
    assert data["metadata"] == {"team": "risk"} and data["signature"] is None
    assert read_manifest(tmp_path / "m").to_dict() == data


def test_regressor_has_no_proba(tmp_path: Path, diabetes: Data, diabetes_ridge: Ridge) -> None:
    X, _ = diabetes
    save_model(diabetes_ridge, tmp_path / "m", signature=infer_signature(X))
    loaded = load_model(tmp_path / "m")
    assert loaded.has_proba is False
    assert np.array_equal(loaded.predict(X), diabetes_ridge.predict(X))
    # An array is named after the fitted features (no sklearn warning); BLAS may differ in ulps.
    assert np.allclose(loaded.predict(X.to_numpy()), diabetes_ridge.predict(X), rtol=1e-12)
    with pytest.raises(ValidationError, match="no predict_proba"):
        loaded.predict_proba(X)


def test_python_object_roundtrip(
    tmp_path: Path, cancer: Data, cancer_gb: GradientBoostingClassifier
) -> None:
    X, _ = cancer
    wrapper = WrappedClassifier(cancer_gb)
    manifest = save_model(wrapper, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert manifest.flavor == "python" and loaded.has_proba
    assert isinstance(loaded.raw, WrappedClassifier)
    assert np.array_equal(loaded.predict(X), cancer_gb.predict(X))
    assert np.array_equal(loaded.predict_proba(X), cancer_gb.predict_proba(X))
    assert manifest.requirements[:3] == [
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"joblib=={joblib.__version__}",
    ]


def test_explicit_flavor_is_checked(tmp_path: Path, cancer_logreg: Pipeline) -> None:
    with pytest.raises(ValidationError, match="cannot be saved with the 'onnx' flavor"):
        save_model(cancer_logreg, tmp_path / "a", flavor="onnx")
    with pytest.raises(ValidationError, match="unknown model flavor 'keras'"):
        save_model(cancer_logreg, tmp_path / "b", flavor="keras")
    assert save_model(cancer_logreg, tmp_path / "c", flavor="python").flavor == "python"


@pytest.mark.parametrize("model", [object(), {"weights": [1, 2]}, "model.pkl"])
def test_unsupported_objects_are_refused(tmp_path: Path, model: object) -> None:
    with pytest.raises(ValidationError, match="object with a predict method"):
        save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not pickle"):
        save_model(Unpicklable(), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_destination_must_be_new_or_empty(tmp_path: Path, diabetes_ridge: Ridge) -> None:
    (tmp_path / "empty").mkdir()
    save_model(diabetes_ridge, tmp_path / "empty")
    with pytest.raises(ValidationError, match="not an empty folder"):
        save_model(diabetes_ridge, tmp_path / "empty")
    save_model(diabetes_ridge, tmp_path / "deep" / "er" / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "empty"]


def test_arguments_are_checked_before_writing(
    tmp_path: Path, diabetes: Data, diabetes_ridge: Ridge
) -> None:
    X, _ = diabetes
    signature = infer_signature(X)
    with pytest.raises(ValidationError, match=r"input_example does not match.*bmi: missing"):
        save_model(diabetes_ridge, tmp_path / "m", signature=signature,
                   input_example=X.drop(columns="bmi"))  # fmt: skip
    with pytest.raises(ValidationError, match="input_example must be a pandas DataFrame"):
        save_model(diabetes_ridge, tmp_path / "m", input_example=X.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="metadata must be JSON"):
        save_model(diabetes_ridge, tmp_path / "m", metadata={"at": datetime.now()})
    with pytest.raises(ValidationError, match="requirements must be a list"):
        save_model(diabetes_ridge, tmp_path / "m", requirements="scikit-learn")  # type: ignore[arg-type]
    assert not (tmp_path / "m").exists()


def test_explicit_requirements_and_dict_signature(
    tmp_path: Path, diabetes: Data, diabetes_ridge: Ridge
) -> None:
    X, _ = diabetes
    signature = infer_signature(X)
    manifest = save_model(diabetes_ridge, tmp_path / "m", requirements=["scikit-learn>=1.4"],
                          signature=signature.to_dict())  # fmt: skip
    assert manifest.requirements == ["scikit-learn>=1.4"]
    assert load_model(tmp_path / "m").signature == signature
