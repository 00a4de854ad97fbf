"""Labels from one predict_proba call equal `predict`'s, on real data sets and on ties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from loopml.registry.packaging.flavors.sklearn import SklearnPredictor
from loopml.registry.packaging.outcomes import argmax_classes, labels_from_proba, near_ties

DATASETS: dict[str, Callable[..., Any]] = {
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
}
ESTIMATORS: dict[str, Callable[[], Any]] = {
    "forest": lambda: RandomForestClassifier(n_estimators=4, random_state=0),  # many ties
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=2, random_state=0),
    "tree": lambda: DecisionTreeClassifier(min_samples_leaf=4, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=15, random_state=0),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=15),
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "gaussian_nb": GaussianNB,
    "multinomial_nb": MultinomialNB,
}


class CountingModel:
    """Counts the calls a predictor makes (the point of deriving labels from probabilities)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.classes_ = inner.classes_

    def predict(self, X: Any) -> Any:
        self.calls.append("predict")
        return self.inner.predict(X)

    def predict_proba(self, X: Any) -> Any:
        self.calls.append("predict_proba")
        return self.inner.predict_proba(X)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_one_call_gives_predicts_labels(dataset: str, estimator: str) -> None:
    X, y = DATASETS[dataset](return_X_y=True, as_frame=True)
    if dataset != "digits":
        y = pd.Series(np.asarray(["class_" + str(v) for v in y]))  # string labels
    model = ESTIMATORS[estimator]().fit(X, y)
    assert argmax_classes(model) is not None
    # Rows the model never saw, rows far outside, and all-zero rows (ties for some models).
    probe = pd.concat([X, X * 3.0, X * 0.0, X.iloc[::-1] + 0.5], ignore_index=True)
    labels, proba = SklearnPredictor(model).predict_both(probe)
    np.testing.assert_array_equal(labels, model.predict(probe))
    np.testing.assert_array_equal(proba, model.predict_proba(probe))


def test_ties_are_settled_by_predict_itself() -> None:
    X, y = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=2, random_state=1).fit(X, y)
    proba = forest.predict_proba(X)
    tied = near_ties(proba)
    assert tied.any()  # two trees disagree on some rows: exactly 0.5 / 0.5
    counted = CountingModel(forest)
    labels = labels_from_proba(proba, forest.classes_, X, counted.predict)
    np.testing.assert_array_equal(labels, forest.predict(X))
    assert counted.calls == ["predict"]  # only for the tied rows


def test_a_model_whose_labels_may_disagree_with_its_probabilities_keeps_two_calls() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    svc = CalibratedClassifierCV(SVC(), ensemble=False).fit(X[:200], y[:200])
    assert argmax_classes(svc) is None
    labels, proba = SklearnPredictor(svc).predict_both(X)
    np.testing.assert_array_equal(labels, svc.predict(X))
    np.testing.assert_array_equal(proba, svc.predict_proba(X))


def test_an_untied_batch_makes_exactly_one_model_call() -> None:
    X, y = load_wine(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    counted = CountingModel(model)
    predictor = SklearnPredictor(counted)
    predictor._classes = argmax_classes(model)  # the wrapper hides the real estimator's type
    labels, _ = predictor.predict_both(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    assert counted.calls == ["predict_proba"]
