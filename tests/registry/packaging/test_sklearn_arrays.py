"""The scikit-learn predictor fed arrays: its finiteness check, done once by numpy."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from loopml.registry.packaging.flavors.sklearn import SklearnPredictor


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@pytest.mark.parametrize(
    "model",
    [
        GradientBoostingClassifier(n_estimators=10, random_state=0),
        LogisticRegression(max_iter=5000),
    ],
)
def test_finite_arrays_get_the_same_answers(
    model: object, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    fitted = model.fit(X, y)  # type: ignore[attr-defined]
    predictor = SklearnPredictor(fitted)
    for rows in (X[:1], X[:7], X[100:164]):
        labels, proba = predictor.predict_both(rows)
        assert labels.tolist() == fitted.predict(rows).tolist()
        assert np.array_equal(proba, fitted.predict_proba(rows))
        assert np.array_equal(predictor.predict_proba(rows), fitted.predict_proba(rows))
        assert predictor.predict(rows).tolist() == labels.tolist()
    assert sklearn.get_config()["assume_finite"] is False  # the setting did not leak


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_still_reach_the_models_refusal(
    bad: float, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = data
    predictor = SklearnPredictor(GradientBoostingClassifier(n_estimators=5).fit(X, y))
    rows = X[:3].copy()
    rows[1, 4] = bad
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        predictor.predict_both(rows)
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        predictor.predict(rows)
