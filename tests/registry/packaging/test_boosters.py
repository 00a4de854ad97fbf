"""XGBoost and LightGBM beyond the conformance suite's binary case: multi-class, regression,
string labels, and the native formats (no pickle for boosters)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine

from loopml.errors import ArtifactCorruptedError
from loopml.registry.packaging import infer_signature, load_model, read_manifest, save_model
from loopml.registry.packaging.flavors import get_flavor

xgb = pytest.importorskip("xgboost", reason="needs the xgboost extra")
lgb = pytest.importorskip("lightgbm", reason="needs the lightgbm extra")


def _wine() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y


def _xgb_softprob(X: pd.DataFrame, y: pd.Series) -> tuple[Any, Callable[[pd.DataFrame], Any]]:
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}
    booster = xgb.train(params, xgb.DMatrix(X, y), num_boost_round=15)
    return booster, lambda x: booster.predict(xgb.DMatrix(x))


def _lgb_multiclass(X: pd.DataFrame, y: pd.Series) -> tuple[Any, Callable[[pd.DataFrame], Any]]:
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=15)
    return booster, booster.predict


@pytest.mark.parametrize("build", [_xgb_softprob, _lgb_multiclass], ids=["xgboost", "lightgbm"])
def test_a_native_multiclass_booster_labels_by_its_most_probable_class(
    build: Callable[..., Any], tmp_path: Path
) -> None:
    X, y = _wine()
    booster, proba_of = build(X, y)
    save_model(booster, tmp_path / "m", signature=infer_signature(X))
    manifest = read_manifest(tmp_path / "m")
    assert manifest.loader["api"] == "booster" and not manifest.loader["file"].endswith("joblib")
    loaded = load_model(tmp_path / "m")
    labels, proba = loaded.predict_both(X)
    np.testing.assert_allclose(proba, proba_of(X), rtol=1e-6)
    np.testing.assert_array_equal(labels, np.argmax(proba_of(X), axis=1))
    arrays = loaded.for_arrays()
    assert arrays is not None  # numeric columns: served from a float matrix
    np.testing.assert_allclose(arrays.predict_both(X.to_numpy())[1], proba, rtol=1e-6)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_native_regression_boosters_give_one_value_per_row(library: str, tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    if library == "xgboost":
        booster = xgb.train({"max_depth": 3}, xgb.DMatrix(X, y), num_boost_round=20)
        expected = booster.predict(xgb.DMatrix(X))
    else:
        booster = lgb.train({"verbose": -1}, lgb.Dataset(X, y), num_boost_round=20)
        expected = booster.predict(X)
    save_model(booster, tmp_path / "m", signature=infer_signature(X))
    loaded = load_model(tmp_path / "m")
    assert not loaded.has_proba
    labels, proba = loaded.predict_both(X)
    assert proba is None
    np.testing.assert_allclose(labels, expected, rtol=1e-6)


def test_sklearn_api_classifiers_keep_their_string_labels(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    names = pd.Series(np.array(["setosa", "versicolor", "virginica"])[y])
    model = lgb.LGBMClassifier(n_estimators=10, num_leaves=5, verbose=-1).fit(X, names)
    save_model(model, tmp_path / "m", signature=infer_signature(X))
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "lightgbm"
    labels, proba = loaded.predict_both(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X))
    arrays = loaded.for_arrays()
    assert arrays is not None
    np.testing.assert_array_equal(arrays.predict_both(X.to_numpy())[0], model.predict(X))


def test_an_xgboost_regressor_from_the_sklearn_api_round_trips(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y)
    save_model(model, tmp_path / "m", signature=infer_signature(X))
    assert read_manifest(tmp_path / "m").loader["api"] == "XGBRegressor"
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-6)
    arrays = loaded.for_arrays()
    assert arrays is not None
    np.testing.assert_allclose(arrays.predict(X.to_numpy()), model.predict(X), rtol=1e-6)


def test_a_manifest_naming_an_unknown_api_is_refused(tmp_path: Path) -> None:
    X, y = _wine()
    booster, _ = _xgb_softprob(X, y)
    save_model(booster, tmp_path / "m", signature=infer_signature(X))
    with pytest.raises(ArtifactCorruptedError, match="modified after it was saved"):
        get_flavor("xgboost").load(tmp_path / "m", {"file": "model.ubj", "format": "pickle"})
