"""Fairness reports on real data, checked against Fairlearn and against hand computation.

The breast-cancer data has no demographic attribute, so the tests derive a *synthetic*
sensitive attribute deterministically from a feature (tumour size above or below the
median radius). It stands in for a protected group; it is not one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.errors import ValidationError
from loopml.governance.fairness import FairnessReport, evaluate_fairness
from loopml.samples import bikeshare_features, load_bikeshare, split_by_months


@dataclass(frozen=True)
class Predictions:
    y_true: np.ndarray[Any, Any]
    y_pred: np.ndarray[Any, Any]
    y_score: np.ndarray[Any, Any]
    sensitive: pd.DataFrame


@pytest.fixture(scope="module")
def cancer() -> Predictions:
    """A logistic regression on half the data, scored on the other half."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    features, target = frame.drop(columns=["target"]), frame["target"].to_numpy()
    half = len(frame) // 2
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(features.iloc[:half], target[:half])
    test = features.iloc[half:].reset_index(drop=True)
    sensitive = pd.DataFrame(
        {
            "size": np.where(test["mean radius"] > frame["mean radius"].median(), "large", "small"),
            "texture": np.where(test["mean texture"] > 19, "rough", "smooth"),
        }
    )
    return Predictions(
        target[half:], model.predict(test), model.predict_proba(test)[:, 1], sensitive
    )


@pytest.fixture(scope="module")
def bikes() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], pd.DataFrame]:
    """Ridge trained on Jan-Mar 2011, predicting Apr-Jun (bundled UCI Bike Sharing data)."""
    frame = load_bikeshare()
    train, later = split_by_months(frame, [1, 2, 3]), split_by_months(frame, [4, 5, 6])
    model = Ridge().fit(bikeshare_features(train), train["bikers"])
    predicted = model.predict(bikeshare_features(later))
    return later["bikers"].to_numpy(), predicted, later[["workingday", "weathersit"]]


# ---------------------------------------------------------------------- classification
def test_classification_matches_fairlearn(cancer: Predictions) -> None:
    report = evaluate_fairness(
        cancer.y_true, cancer.y_pred, cancer.sensitive["size"], task="classification"
    )
    frame = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=cancer.y_true,
        y_pred=cancer.y_pred,
        sensitive_features=cancer.sensitive["size"],
    )
    groups = report.per_group["size"]
    assert set(groups) == {"large", "small"}
    for group, expected in frame.by_group.iterrows():
        for metric, value in expected.items():
            assert groups[str(group)][str(metric)] == pytest.approx(value)
    counts = cancer.sensitive["size"].value_counts()
    assert {g: m["count"] for g, m in groups.items()} == counts.to_dict()
    kwargs = {"sensitive_features": cancer.sensitive["size"]}
    disparities = report.disparities["size"]
    assert disparities["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(cancer.y_true, cancer.y_pred, **kwargs)
    )
    assert disparities["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(cancer.y_true, cancer.y_pred, **kwargs)
    )
    assert disparities["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(cancer.y_true, cancer.y_pred, **kwargs)
    )
    assert report.overall["accuracy"] == pytest.approx(accuracy_score(cancer.y_true, cancer.y_pred))
    assert report.n_samples == len(cancer.y_true) == report.overall["count"]
    assert report.sensitive_columns == ("size",)
    assert report.intersection is None
    assert report.pos_label == 1


def test_hand_computed_on_a_tiny_frame() -> None:
    y_true = [1, 0, 1, 0, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 1, 1, 0]
    sensitive = pd.Series(list("aaaabbbb"), name="g")
    report = evaluate_fairness(y_true, y_pred, sensitive, task="classification")
    a, b = report.per_group["g"]["a"], report.per_group["g"]["b"]
    # a: TP 1, FN 1, FP 1, TN 1; b: TP 2, FN 0, FP 1, TN 1
    assert (a["selection_rate"], a["true_positive_rate"], a["false_positive_rate"]) == (
        0.5,
        0.5,
        0.5,
    )
    assert (b["selection_rate"], b["true_positive_rate"], b["false_positive_rate"]) == (
        0.75,
        1,
        0.5,
    )
    assert (a["accuracy"], b["accuracy"]) == (0.5, 0.75)
    disparities = report.disparities["g"]
    assert disparities["demographic_parity_difference"] == pytest.approx(0.25)
    assert disparities["demographic_parity_ratio"] == pytest.approx(0.5 / 0.75)
    assert disparities["equalized_odds_difference"] == pytest.approx(0.5)  # TPR 1 vs 0.5


def test_intersection_of_columns(cancer: Predictions) -> None:
    report = evaluate_fairness(
        cancer.y_true, cancer.y_pred, cancer.sensitive, task="classification"
    )
    assert report.intersection == "size & texture"
    assert list(report.per_group) == ["size", "texture", "size & texture"]
    crossed = report.per_group["size & texture"]
    assert set(crossed) <= {"large & rough", "large & smooth", "small & rough", "small & smooth"}
    assert sum(m["count"] or 0 for m in crossed.values()) == len(cancer.y_true)
    expected = demographic_parity_difference(
        cancer.y_true, cancer.y_pred, sensitive_features=cancer.sensitive
    )
    assert report.disparities["size & texture"]["demographic_parity_difference"] == pytest.approx(
        expected
    )
    single = evaluate_fairness(
        cancer.y_true, cancer.y_pred, cancer.sensitive[["texture"]], task="classification"
    )
    assert single.per_group["texture"] == report.per_group["texture"]


def test_roc_auc_per_group(cancer: Predictions) -> None:
    report = evaluate_fairness(
        cancer.y_true,
        cancer.y_pred,
        cancer.sensitive["size"],
        task="classification",
        y_score=cancer.y_score,
    )
    mask = (cancer.sensitive["size"] == "large").to_numpy()
    expected = roc_auc_score(cancer.y_true[mask], cancer.y_score[mask])
    assert report.per_group["size"]["large"]["roc_auc"] == pytest.approx(expected)
    assert report.overall["roc_auc"] == pytest.approx(roc_auc_score(cancer.y_true, cancer.y_score))


def test_undefined_rates_are_none_with_a_reason() -> None:
    # group "b" has no positive labels: its TPR and the equalized odds are undefined
    y_true = [1, 0, 1, 0, 0, 0]
    y_pred = [1, 0, 0, 1, 1, 0]
    sensitive = pd.DataFrame({"g": list("aaaabb")})
    report = evaluate_fairness(y_true, y_pred, sensitive, task="classification", y_score=y_pred)
    assert report.per_group["g"]["b"]["true_positive_rate"] is None
    assert report.per_group["g"]["b"]["roc_auc"] is None
    assert report.per_group["g"]["b"]["false_positive_rate"] == 0.5
    assert report.disparities["g"]["equalized_odds_difference"] is None
    assert report.undefined["per_group/g/b/true_positive_rate"] == "no positive labels"
    assert "no positive labels" in report.undefined["disparities/g/equalized_odds_difference"]
    text = json.dumps(report.to_dict(), allow_nan=False)  # no NaN anywhere
    assert FairnessReport.from_dict(json.loads(text)) == report
    [result] = report.check({"equalized_odds_difference": 1.0})
    assert not result.passed and result.value is None
    assert "undefined" in result.message and "no positive labels" in result.message


def test_multiclass_needs_a_positive_label() -> None:
    y_true = [0, 1, 2, 2, 1, 0, 2, 1]
    y_pred = [0, 2, 2, 2, 1, 0, 1, 1]
    sensitive = pd.Series(list("aabbaabb"), name="g")
    with pytest.raises(ValidationError, match="pos_label"):
        evaluate_fairness(y_true, y_pred, sensitive, task="classification")
    report = evaluate_fairness(y_true, y_pred, sensitive, task="classification", pos_label=2)
    assert report.pos_label == 2
    assert report.per_group["g"]["a"]["accuracy"] == pytest.approx(0.75)  # multiclass accuracy
    assert report.per_group["g"]["a"]["selection_rate"] == pytest.approx(0.25)  # 2 vs rest
    assert report.per_group["g"]["b"]["true_positive_rate"] == pytest.approx(2 / 3)


def test_string_labels_take_a_positive_label() -> None:
    y_true = np.array(["yes", "no", "yes", "no"], dtype=object)
    y_pred = np.array(["yes", "yes", "no", "no"], dtype=object)
    sensitive = pd.Series(["a", "a", "b", "b"], name="g")
    with pytest.raises(ValidationError, match=r"'yes'.*pos_label"):
        evaluate_fairness(y_true, y_pred, sensitive, task="classification")
    report = evaluate_fairness(y_true, y_pred, sensitive, task="classification", pos_label="yes")
    assert report.per_group["g"]["a"]["selection_rate"] == 1.0
    assert report.per_group["g"]["b"]["selection_rate"] == 0.0
    assert report.disparities["g"]["demographic_parity_ratio"] == 0.0


def test_sensitive_dtypes_and_positional_alignment() -> None:
    y_true = pd.Series([1, 0, 1, 0, 1, 1, 0, 0], index=range(50, 58))
    y_pred = [1, 1, 0, 0, 1, 1, 1, 0]
    sensitive = pd.DataFrame(
        {
            "flag": [True, False] * 4,  # a boolean index must not act as a row mask
            "cat": pd.Categorical(list("aabbaabb"), categories=list("abz")),  # "z" unused
            "n": pd.array([1, 1, 1, 1, 2, 2, 2, 2], dtype="Int64"),
        },
        index=range(100, 108),
    )
    report = evaluate_fairness(y_true, y_pred, sensitive, task="classification")
    assert list(report.per_group["flag"]) == ["False", "True"]
    assert list(report.per_group["cat"]) == ["a", "b"]
    assert report.per_group["n"]["2"]["selection_rate"] == 0.75
    assert len(report.per_group["flag & cat & n"]) == 8
    assert report.per_group["flag"]["True"]["accuracy"] == 0.5  # rows 0, 2, 4, 6: 2 of 4


# ---------------------------------------------------------------------- regression
def test_regression_on_bikeshare(
    bikes: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], pd.DataFrame],
) -> None:
    y_true, y_pred, sensitive = bikes
    report = evaluate_fairness(y_true, y_pred, sensitive, task="regression")
    assert report.task == "regression"
    assert list(report.per_group) == ["workingday", "weathersit", "workingday & weathersit"]
    maes = {}
    for group in (0, 1):
        mask = (sensitive["workingday"] == group).to_numpy()
        metrics = report.per_group["workingday"][str(group)]
        maes[group] = mean_absolute_error(y_true[mask], y_pred[mask])
        assert metrics["mae"] == pytest.approx(maes[group])
        error = y_true[mask] - y_pred[mask]
        assert metrics["rmse"] == pytest.approx(math.sqrt(np.mean(error**2)))
        assert metrics["mean_prediction"] == pytest.approx(y_pred[mask].mean())
        assert metrics["count"] == int(mask.sum())
    disparities = report.disparities["workingday"]
    assert disparities["mae_difference"] == pytest.approx(abs(maes[0] - maes[1]))
    assert disparities["mae_ratio"] == pytest.approx(min(maes.values()) / max(maes.values()))
    assert report.overall["mae"] == pytest.approx(mean_absolute_error(y_true, y_pred))
    weather = report.per_group["weathersit"]
    assert set(weather) == set(sensitive["weathersit"].unique())
    assert report.pos_label is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_small_groups_are_flagged() -> None:
    report = evaluate_fairness(
        [1.0, 2, 3, 4], [1.0, 2, 3, 5], pd.Series(list("xxyy")), task="regression"
    )
    assert report.sensitive_columns == ("sensitive",)
    assert any("under 30 rows" in w for w in report.warnings)
    assert report.disparities["sensitive"] == {"mae_difference": 0.5, "mae_ratio": 0.0}


# ---------------------------------------------------------------------- check()
@pytest.fixture
def tiny_report() -> FairnessReport:
    y_true = [1, 0, 1, 0, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 1, 1, 0]
    sensitive = pd.DataFrame({"g": list("aaaabbbb"), "h": list("xyxyxyxy")})
    return evaluate_fairness(y_true, y_pred, sensitive, task="classification")


def test_check_passes_and_fails(tiny_report: FairnessReport) -> None:
    # g: DPD 0.25, DPR 0.667; h: selection rates 0.5 (x) and 0.75 (y)
    results = {r.name: r for r in tiny_report.check({"demographic_parity_difference[g]": 0.3})}
    assert list(results) == ["demographic_parity_difference[g]"]
    assert results["demographic_parity_difference[g]"].passed
    assert "limit ≤ 0.3" in results["demographic_parity_difference[g]"].message
    failed = tiny_report.check({"demographic_parity_difference[g]": 0.1})[0]
    assert not failed.passed and failed.value == pytest.approx(0.25) and failed.limit == 0.1
    assert "exceeds the limit 0.1" in failed.message
    ratio = tiny_report.check({"demographic_parity_ratio[g]": 0.8})[0]
    assert not ratio.passed and "below the minimum 0.8" in ratio.message
    assert tiny_report.check({"demographic_parity_ratio[g]": 0.6})[0].passed


def test_unqualified_limits_apply_to_every_column(tiny_report: FairnessReport) -> None:
    results = tiny_report.check({"demographic_parity_difference": 1.0})
    assert [r.name for r in results] == [
        "demographic_parity_difference[g]",
        "demographic_parity_difference[h]",
        "demographic_parity_difference[g & h]",
    ]
    assert all(r.passed for r in results)
    assert results[0].to_dict()["passed"] is True


def test_unknown_or_missing_values_fail(tiny_report: FairnessReport) -> None:
    [unknown] = tiny_report.check({"mae_difference": 20})
    assert not unknown.passed and "not a classification disparity" in unknown.message
    [column] = tiny_report.check({"demographic_parity_difference[age]": 0.1})
    assert not column.passed and "'age' is not in the report" in column.message
    assert tiny_report.check({}) == []
    for bad in ("0.1", math.nan, True):
        with pytest.raises(ValidationError, match="limit"):
            tiny_report.check({"demographic_parity_difference": bad})  # type: ignore[dict-item]


def test_from_dict_round_trip_and_rejects_garbage(tiny_report: FairnessReport) -> None:
    data = json.loads(json.dumps(tiny_report.to_dict(), allow_nan=False))
    assert FairnessReport.from_dict(data) == tiny_report
    with pytest.raises(ValidationError, match="not a fairness report"):
        FairnessReport.from_dict({"task": "classification"})
    with pytest.raises(ValidationError, match="unknown task"):
        FairnessReport.from_dict({**data, "task": "ranking"})


# ---------------------------------------------------------------------- bad input
GROUPS = pd.Series(list("aabb"), name="g")


@pytest.mark.parametrize(
    ("y_true", "y_pred", "sensitive", "kwargs", "match"),
    [
        ([1, 0, 1], [1, 0, 1, 0], GROUPS, {}, "y_true 3, y_pred 4, sensitive 4"),
        ([1, 0, 1, 0], [1, 0, 1, 0], GROUPS[:3], {}, "sensitive 3"),
        ([], [], GROUPS[:0], {}, "y_true is empty"),
        ([1, 0, 1, 0], [1, 0, 1, 0], pd.Series(list("aaaa"), name="g"), {}, "one group only"),
        ([1, np.nan, 1, 0], [1, 0, 1, 0], GROUPS, {}, "y_true has 1 missing value"),
        ([1, 0, 1, 0], [1, 0, None, 0], GROUPS, {}, "y_pred has 1 missing value"),
        ([1, 0, 1, 0], [1, 0, 1, 0], pd.Series(["a", None, "b", "b"]), {}, "missing value"),
        ([1, 0, 1, 0], [1, 0, 1, 0], ["a", "a", "b", "b"], {}, "pandas DataFrame or Series"),
        ([1, 0, 1, 0], [1, 0, 1, 0], pd.DataFrame(index=range(4)), {}, "no columns"),
        ([1, 0, 1, 0], [1, 0, 1, 0], GROUPS, {"task": "ranking"}, "task must be"),
        ([1, 0, 1, 0], [1, 0, 1, 0], GROUPS, {"pos_label": 7}, "pos_label 7 occurs in neither"),
        ([1, 0, 1, 0], [1, 0, 1, 0], GROUPS, {"y_score": [0.1, 0.2]}, "y_score 2"),
        ([[1, 0], [1, 0]], [1, 0], GROUPS, {}, "one-dimensional"),
        (["a", "b", "c", "d"], [1, 2, 3, 4], GROUPS, {"task": "regression"}, "must be numeric"),
        ([1.0, 2, 3, 4], [1.0, 2, np.inf, 4], GROUPS, {"task": "regression"}, "infinite"),
        (
            [1.0, 2, 3, 4],
            [1.0, 2, 3, 4],
            GROUPS,
            {"task": "regression", "y_score": [1] * 4},
            "y_score is for classification",
        ),
    ],
)
def test_bad_input_is_refused(
    y_true: Any, y_pred: Any, sensitive: Any, kwargs: dict[str, Any], match: str
) -> None:
    kwargs = {"task": "classification", **kwargs}
    with pytest.raises(ValidationError, match=match):
        evaluate_fairness(y_true, y_pred, sensitive, **kwargs)
