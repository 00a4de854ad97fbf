"""Performance metrics from labelled predictions, checked against scikit-learn itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from loopml.errors import ValidationError
from loopml.monitoring.performance import infer_task, normalise, performance

RNG = np.random.default_rng(7)


def _proba(n: int, k: int) -> np.ndarray[Any, Any]:
    raw = RNG.random((n, k)) + 0.05
    return np.asarray(raw / raw.sum(axis=1, keepdims=True))


def _frame(prediction: Any, label: Any, proba: np.ndarray[Any, Any] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"prediction": prediction, "label": label})
    if proba is not None:
        for i in range(proba.shape[1]):
            frame[f"proba_{i}"] = proba[:, i]
    return frame


def test_binary_with_probabilities_matches_sklearn() -> None:
    n = 200
    y = RNG.integers(0, 2, n)
    proba = _proba(n, 2)
    pred = proba.argmax(axis=1)
    result = performance(_frame(pred, y, proba))
    assert result.status == "ok" and result.task == "classification"
    assert (result.rows, result.labelled_rows) == (n, n)
    m = result.metrics
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba))
    assert "positive class 1" in (result.message or "")


def test_multiclass_string_labels_against_numeric_strings() -> None:
    """Classes "a" < "b" < "c" in the model's order; probabilities in that order."""
    n = 300
    classes = np.array(["a", "b", "c"])
    y = classes[RNG.integers(0, 3, n)]
    proba = _proba(n, 3)
    pred = classes[proba.argmax(axis=1)]
    result = performance(_frame(pred, y, proba))
    m = result.metrics
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(classes))
    )
    assert m["log_loss"] == pytest.approx(log_loss(y, proba, labels=list(classes)))
    assert "macro" in (result.message or "")


def test_labels_as_strings_while_predictions_are_numbers() -> None:
    n = 100
    y = RNG.integers(0, 2, n)
    proba = _proba(n, 2)
    pred = proba.argmax(axis=1).astype(float)  # 0.0 / 1.0 as a Parquet double column gives
    result = performance(_frame(pred, [str(v) for v in y], proba))
    assert result.task == "classification"
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(y, pred.astype(int)))
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert result.metrics["log_loss"] == pytest.approx(log_loss(y, proba))


def test_class_order_comes_from_labels_when_given() -> None:
    """A model whose classes_ are ["yes", "no"] would not be sorted: labels= fixes the order."""
    y = np.array(["yes", "no", "yes", "no", "yes", "yes"])
    proba_yes = np.array([0.9, 0.2, 0.7, 0.4, 0.6, 0.3])
    proba = np.column_stack([proba_yes, 1 - proba_yes])  # columns: yes, no
    pred = np.where(proba_yes > 0.5, "yes", "no")
    result = performance(_frame(pred, y, proba), labels=["yes", "no"])
    assert result.metrics["f1"] == pytest.approx(f1_score(y, pred, pos_label="no"))
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(y == "no", proba[:, 1]))
    assert result.metrics["log_loss"] == pytest.approx(
        log_loss(y, proba[:, [1, 0]], labels=["no", "yes"])
    )


def test_without_probabilities_only_accuracy_and_f1() -> None:
    y = ["spam", "ham", "spam", "ham"]
    pred = ["spam", "spam", "spam", "ham"]
    result = performance(_frame(pred, y))
    assert result.metrics["accuracy"] == pytest.approx(0.75)
    assert result.metrics["f1"] == pytest.approx(f1_score(y, pred, pos_label="spam"))
    assert result.metrics["roc_auc"] is None and result.metrics["log_loss"] is None
    assert "no probabilities" in (result.message or "")


def test_one_class_in_labels_gives_no_roc_auc_and_says_why() -> None:
    proba = _proba(5, 2)
    result = performance(_frame([1, 0, 1, 1, 1], [1, 1, 1, 1, 1], proba))
    assert result.metrics["roc_auc"] is None
    assert "two classes" in (result.message or "")
    assert result.metrics["log_loss"] == pytest.approx(log_loss([1] * 5, proba, labels=[0, 1]))


def test_multiclass_roc_auc_is_undefined_when_a_class_has_no_labels() -> None:
    proba = _proba(6, 3)
    y = [0, 1, 0, 1, 1, 0]  # class 2 has no label in this window
    result = performance(_frame([0, 1, 2, 1, 0, 0], y, proba))
    assert result.metrics["roc_auc"] is None and result.metrics["f1"] is None
    assert "classes [2] have no labels in the window" in (result.message or "")
    y = [0, 1, 2, 1, 2, 0]
    result = performance(_frame([0, 1, 2, 1, 0, 0], y, proba))
    expected = np.mean([roc_auc_score([t == c for t in y], proba[:, c]) for c in (0, 1, 2)])
    assert result.metrics["roc_auc"] == pytest.approx(expected)


def test_probability_columns_that_do_not_match_the_classes_are_not_guessed() -> None:
    proba = _proba(4, 3)  # three columns, but only two classes seen
    result = performance(_frame([0, 1, 1, 0], [0, 1, 0, 0], proba))
    assert result.metrics["roc_auc"] is None and result.metrics["log_loss"] is None
    assert "labels=" in (result.message or "")
    fixed = performance(_frame([0, 1, 1, 0], [0, 1, 0, 0], proba), labels=[0, 1, 2])
    assert fixed.metrics["log_loss"] == pytest.approx(
        log_loss([0, 1, 0, 0], proba, labels=[0, 1, 2])
    )


def test_regression_matches_sklearn_and_counts_labels() -> None:
    n = 50
    y = RNG.normal(200, 40, n)
    pred = y + RNG.normal(0, 15, n)
    label = pd.Series(y, dtype=object)
    label[::5] = None  # a fifth of the requests have no feedback yet
    result = performance(_frame(pred, label))
    kept = label.notna().to_numpy()
    assert result.task == "regression"
    assert (result.rows, result.labelled_rows) == (n, int(kept.sum()))
    assert result.metrics["mae"] == pytest.approx(mean_absolute_error(y[kept], pred[kept]))
    assert result.metrics["rmse"] == pytest.approx(root_mean_squared_error(y[kept], pred[kept]))
    assert result.metrics["r2"] == pytest.approx(r2_score(y[kept], pred[kept]))


def test_regression_with_one_labelled_row_has_no_r2() -> None:
    result = performance(_frame([1.5, 2.5], [None, 2.0]), task="regression")
    assert result.metrics == {"mae": 0.5, "rmse": 0.5, "r2": None}
    assert "at least 2" in (result.message or "")


def test_no_labels_is_a_recorded_outcome_not_a_crash() -> None:
    result = performance(_frame([1.5, 2.5, 3.5], [None, None, None]))
    assert result.status == "no_labels"
    assert (result.rows, result.labelled_rows, result.metrics) == (3, 0, {})
    assert "none of the 3" in (result.message or "")


def test_empty_window() -> None:
    result = performance(pd.DataFrame({"prediction": [], "label": []}), task="regression")
    assert result.status == "empty" and result.rows == 0 and result.metrics == {}
    assert result.task == "regression"


def test_arrow_tables_are_accepted() -> None:
    table = pa.table({"prediction": [0, 1, 1], "label": ["0", "1", "0"]})
    assert performance(table).metrics["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("truth", "predicted", "proba", "task"),
    [
        ([0, 1, 1], [0, 1, 0], False, "classification"),
        ([0.0, 1.0, 1.0], [0.0, 1.0, 0.0], False, "classification"),
        ([231, 12, 40], [230.4, 15.2, 38.0], False, "regression"),
        (list(range(30)), list(range(30)), False, "regression"),
        ([1.0, 2.0], [1.0, 2.0], True, "classification"),
        (["a", "b"], ["a", "a"], False, "classification"),
    ],
)
def test_task_rule(truth: list[Any], predicted: list[Any], proba: bool, task: str) -> None:
    norm = [normalise(v) for v in truth], [normalise(v) for v in predicted]
    assert infer_task(*norm, has_proba=proba) == task


def test_forcing_the_task() -> None:
    result = performance(_frame([0, 1, 2, 1], [0, 1, 1, 1]), task="regression")
    assert result.task == "regression" and result.metrics["mae"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (1.0, 1),
        ("1", 1),
        (" 1.0 ", 1),
        (True, 1),
        ("true", 1),
        (np.int64(2), 2),
        (2.5, 2.5),
        ("yes", "yes"),
        (None, None),
        (float("nan"), None),
        ("nan", "nan"),
    ],
)
def test_normalise(value: Any, expected: Any) -> None:
    assert normalise(value) == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="task"):
        performance(_frame([1], [1]), task="ranking")
    with pytest.raises(ValidationError, match="'label'"):
        performance(pd.DataFrame({"prediction": [1]}))


def _weather_model() -> tuple[Any, pd.DataFrame]:
    from sklearn.ensemble import RandomForestClassifier
    from vega_datasets import data as vega

    frame = vega.seattle_weather()
    features = ["precipitation", "temp_max", "temp_min", "wind"]
    train = frame[frame["date"].dt.year <= 2014]
    model = RandomForestClassifier(n_estimators=20, random_state=0)
    model.fit(train[features], train["weather"])
    test = frame[frame["date"].dt.year == 2015].reset_index(drop=True)
    scored = pd.DataFrame({"prediction": model.predict(test[features]), "label": test["weather"]})
    proba = model.predict_proba(test[features])
    for i in range(proba.shape[1]):
        scored[f"proba_{i}"] = proba[:, i]
    scored["month"] = test["date"].dt.month
    return model, scored


def test_multiclass_metrics_cover_every_class_or_are_undefined() -> None:
    """Seattle weather, five classes: a summer month without snow has no macro AUC."""
    model, scored = _weather_model()
    classes = list(model.classes_)
    july = scored[scored["month"] == 7].drop(columns="month")
    result = performance(july, labels=classes)
    assert result.metrics["roc_auc"] is None and result.metrics["f1"] is None
    assert "have no labels in the window" in (result.message or "")
    assert "'snow'" in (result.message or "")
    assert result.metrics["accuracy"] is not None and result.metrics["log_loss"] is not None
    year = performance(scored.drop(columns="month"), labels=classes)
    if set(scored["label"]) == set(classes):
        assert year.metrics["roc_auc"] is not None
        assert "over all 5 classes" in (year.message or "")


def test_quality_metrics_need_a_minimum_count_per_class() -> None:
    model, scored = _weather_model()
    rainy = pd.DataFrame(
        {
            "prediction": (scored["prediction"] == "rain").astype(int),
            "label": (scored["label"] == "rain").astype(int),
            "proba_0": 1 - scored[f"proba_{list(model.classes_).index('rain')}"],
            "proba_1": scored[f"proba_{list(model.classes_).index('rain')}"],
            "month": scored["month"],
        }
    )
    month = rainy[rainy["month"] == 8].drop(columns="month")
    positives = int(month["label"].sum())
    assert 0 < positives < 30
    guarded = performance(month, labels=[0, 1], min_class_rows=30)
    assert guarded.metrics["roc_auc"] is None and guarded.metrics["f1"] is None
    assert f"1: {positives}" in (guarded.message or "") and "min_class_rows" in (
        guarded.message or ""
    )
    assert performance(month, labels=[0, 1]).metrics["roc_auc"] is not None
    assert performance(month, labels=[0, 1], min_class_rows=positives).metrics["roc_auc"]
