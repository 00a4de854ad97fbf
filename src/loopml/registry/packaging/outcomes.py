"""Labels and probabilities from one model call, where the model's `predict` allows it.

Most probabilistic classifiers decide by taking the most probable class: forests, trees,
gradient boosting, logistic regression, naive Bayes, XGBoost and LightGBM. For those,
calling `predict_proba` and picking `classes_[argmax]` gives `predict`'s answer for half the
work. The two can differ only where the two most probable classes are (almost) tied: a
binary boosting model thresholds its raw score, not the rounded probabilities, and the tie
rules differ. Rows that close are handed to `predict` itself, so the labels are always
exactly what `predict` says. Models not known to decide this way (an SVC, whose Platt
probabilities may disagree with its decision function) keep two calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[Any]

# Classifiers whose predict is the argmax of their predict_proba (up to near-ties).
ARGMAX_CLASSIFIERS = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._bagging.BaggingClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._logistic.LogisticRegressionCV",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.naive_bayes.ComplementNB",
        "sklearn.naive_bayes.CategoricalNB",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRFClassifier",
        "lightgbm.sklearn.LGBMClassifier",
    }
)


def _final_step(model: Any) -> Any:
    """The estimator that decides: the last step of a (nested) pipeline, else the model."""
    while hasattr(model, "steps") and isinstance(model.steps, list) and model.steps:
        model = model.steps[-1][1]
    return model


def argmax_classes(model: Any) -> Array | None:
    """`classes_` when `model.predict` is `classes_[argmax(predict_proba)]`, else None."""
    final = _final_step(model)
    kind = type(final)
    if f"{kind.__module__}.{kind.__qualname__}" not in ARGMAX_CLASSIFIERS:
        return None
    classes = getattr(final, "classes_", None)
    return None if classes is None else np.asarray(classes)


def near_ties(proba: Array) -> Array:
    """Rows whose two most probable classes are within rounding of each other."""
    if proba.ndim != 2 or proba.shape[1] < 2:
        return np.zeros(len(proba), dtype=bool)
    top_two = np.partition(proba, -2, axis=1)[:, -2:]
    eps = np.finfo(proba.dtype).eps if np.issubdtype(proba.dtype, np.floating) else 0.0
    margin = max(1e-9, 1000 * float(eps))
    result: Array = (top_two[:, 1] - top_two[:, 0]) <= margin
    return result


def labels_from_proba(proba: Array, classes: Array, X: Any, predict: Callable[[Any], Any]) -> Array:
    """`classes[argmax(proba)]`, with near-tied rows answered by `predict` on those rows."""
    labels: Array = classes.take(np.argmax(proba, axis=1))
    tied = np.flatnonzero(near_ties(proba))
    if tied.size:
        subset = X.iloc[tied] if isinstance(X, pd.DataFrame) else np.asarray(X)[tied]
        exact = np.asarray(predict(subset))
        if exact.dtype != labels.dtype:
            labels = labels.astype(np.result_type(labels.dtype, exact.dtype))
        labels[tied] = exact
    return labels


def predict_both(model: Any, X: Any, classes: Array | None) -> tuple[Array, Array]:
    """Labels and probabilities of a scikit-learn-style classifier: one call when
    `classes` (from `argmax_classes`) says it decides by argmax, two otherwise."""
    proba = np.asarray(model.predict_proba(X))
    if classes is not None and proba.ndim == 2 and proba.shape[1] == len(classes):
        return labels_from_proba(proba, classes, X, model.predict), proba
    return np.asarray(model.predict(X)), proba
