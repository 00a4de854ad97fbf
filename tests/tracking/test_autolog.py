"""`loopml.sklearn.autolog`: real estimators on scikit-learn's bundled data sets."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import joblib
import numpy as np
import pytest
from joblib import parallel_config
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import loopml
import loopml.sklearn
from loopml.sdk import Client
from loopml.tracking.autolog import MODEL_ARTIFACT, estimator_params
from loopml.validation import MAX_VALUE_LEN

Data = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


@pytest.fixture
def autologged(client: Client) -> Iterator[Client]:
    """Autolog on through `client`; always switched off again, so other tests see plain sklearn."""
    loopml.set_client(client)
    loopml.sklearn.autolog(experiment="auto")
    yield client
    loopml.sklearn.autolog(disable=True)


@pytest.fixture(scope="module")
def diabetes() -> Data:
    x, y = load_diabetes(return_X_y=True)
    return x, y


@pytest.fixture(scope="module")
def cancer() -> Data:
    x, y = load_breast_cancer(return_X_y=True)
    return x, y


def _runs(client: Client) -> list[loopml.RunRecord]:
    return list(client.search_runs())


def _model(client: Client, run_id: str) -> Any:
    return joblib.load(io.BytesIO(client.read_artifact(run_id, MODEL_ARTIFACT)))


def test_regressor_outside_a_run_gets_its_own_finished_run(
    autologged: Client, diabetes: Data
) -> None:
    x, y = diabetes
    model = Ridge(alpha=0.5).fit(x, y)
    (run,) = _runs(autologged)
    assert run.status == "FINISHED"
    assert autologged.active_run() is None
    assert run.params["alpha"] == "0.5"
    assert run.params["fit_intercept"] == "True"
    assert run.tags["estimator_name"] == "Ridge"
    assert run.tags["estimator_class"].endswith(".Ridge")
    assert set(run.metrics) == {"training_r2", "training_rmse", "training_mae"}
    assert run.metrics["training_r2"] == pytest.approx(model.score(x, y))
    assert 0 < run.metrics["training_mae"] < run.metrics["training_rmse"]
    loaded = _model(autologged, run.id)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_binary_classifier_logs_probabilistic_metrics(autologged: Client, cancer: Data) -> None:
    x, y = cancer
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    with loopml.start_run("auto", capture_code=False) as run:
        model.fit(x, y)
    record = run.record()
    assert set(record.metrics) == {
        "training_accuracy",
        "training_f1",
        "training_log_loss",
        "training_roc_auc",
    }
    assert record.metrics["training_accuracy"] == pytest.approx(model.score(x, y))
    assert 0.9 < record.metrics["training_roc_auc"] <= 1.0
    assert record.params["n_estimators"] == "10"
    loaded = _model(autologged, run.id)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_multiclass_classifier_has_no_roc_auc(autologged: Client, cancer: Data) -> None:
    x, y = cancer
    three_classes = y + (x[:, 0] > 15)
    DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, three_classes)
    (run,) = _runs(autologged)
    assert "training_log_loss" in run.metrics
    assert "training_roc_auc" not in run.metrics


def test_fit_inside_a_user_run_logs_there_and_leaves_it_open(
    autologged: Client, diabetes: Data
) -> None:
    x, y = diabetes
    with loopml.start_run("auto", capture_code=False) as run:
        Ridge().fit(x, y)
        assert autologged.active_run() is run
        run.log_metric("val_rmse", 1.0)
    (record,) = _runs(autologged)
    assert record.id == run.id and record.status == "FINISHED"
    assert {"training_r2", "val_rmse"} <= set(record.metrics)


def test_pipeline_logs_once_for_the_outermost_fit(autologged: Client, cancer: Data) -> None:
    x, y = cancer
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipe.fit(x, y)
    (run,) = _runs(autologged)
    assert run.tags["estimator_name"] == "Pipeline"
    assert "steps" in run.params and "C" not in run.params
    assert "training_roc_auc" in run.metrics
    loaded = _model(autologged, run.id)
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict(x), pipe.predict(x))


def test_grid_search_logs_once_with_best_params(autologged: Client, diabetes: Data) -> None:
    x, y = diabetes
    search = GridSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"max_depth": [2, 4], "min_samples_leaf": [5]},
        cv=3,
    )
    search.fit(x, y)
    (run,) = _runs(autologged)
    assert run.tags["estimator_name"] == "GridSearchCV"
    assert run.params["param_grid.max_depth"] == "[2, 4]"
    assert run.params["best_params.max_depth"] == str(search.best_params_["max_depth"])
    assert run.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "training_r2" in run.metrics


def test_parallel_inner_fits_on_threads_do_not_log(autologged: Client, diabetes: Data) -> None:
    search = GridSearchCV(
        DecisionTreeRegressor(random_state=0), {"max_depth": [2, 3, 4]}, cv=2, n_jobs=2
    )
    with parallel_config(backend="threading"):
        search.fit(*diabetes)
    assert [r.tags["estimator_name"] for r in _runs(autologged)] == ["GridSearchCV"]


def test_meta_estimator_fitting_inner_estimators_logs_once(
    autologged: Client, cancer: Data
) -> None:
    x, y = cancer
    OneVsRestClassifier(DecisionTreeClassifier(max_depth=2, random_state=0)).fit(x, y)
    assert [r.tags["estimator_name"] for r in _runs(autologged)] == ["OneVsRestClassifier"]


def test_disable_restores_the_original_methods(client: Client, diabetes: Data) -> None:
    original = Ridge.fit
    loopml.set_client(client)
    loopml.sklearn.autolog(experiment="auto")
    loopml.sklearn.autolog(experiment="auto")  # a second call must not wrap twice
    assert Ridge.fit is not original
    assert Ridge.fit.__wrapped__ is original  # type: ignore[attr-defined]
    loopml.sklearn.autolog(disable=True)
    assert Ridge.fit is original and Pipeline.fit.__name__ == "fit"
    assert not loopml.sklearn.is_patched()
    Ridge().fit(*diabetes)
    assert _runs(client) == []


def test_failed_fit_fails_its_own_run_and_raises(autologged: Client) -> None:
    with pytest.raises(ValueError):
        Ridge().fit([[1.0], [2.0]], [1.0])  # inconsistent lengths
    (run,) = _runs(autologged)
    assert run.status == "FAILED"
    assert run.error is not None and "ValueError" in run.error


def test_logging_errors_warn_but_training_succeeds(
    autologged: Client, diabetes: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(loopml.Run, "log_model", broken)
    x, y = diabetes
    with pytest.warns(RuntimeWarning, match="could not log the model of Ridge.*disk full"):
        model = Ridge().fit(x, y)
    assert model.coef_.shape == (x.shape[1],)
    (run,) = _runs(autologged)
    assert run.status == "FINISHED" and "training_r2" in run.metrics


def test_changed_params_in_one_run_warn_instead_of_failing(
    autologged: Client, diabetes: Data
) -> None:
    x, y = diabetes
    with loopml.start_run("auto", capture_code=False):
        Ridge(alpha=1.0).fit(x, y)
        with pytest.warns(RuntimeWarning, match="could not log params"):
            Ridge(alpha=2.0).fit(x, y)


def test_log_models_false_skips_the_artifact(client: Client, diabetes: Data) -> None:
    loopml.set_client(client)
    loopml.sklearn.autolog(experiment="auto", log_models=False)
    try:
        Ridge().fit(*diabetes)
    finally:
        loopml.sklearn.autolog(disable=True)
    (run,) = _runs(client)
    assert MODEL_ARTIFACT not in [a["path"] for a in client.tracking.list_artifacts(run.id)]


def test_params_are_flat_bounded_strings() -> None:
    class Wide(Ridge):
        def get_params(self, deep: bool = True) -> dict[str, Any]:
            return {"alpha": 1, "nested": {"a": None, "b/c": 2.5}, "bad key!": "x" * 10_000}

    params = estimator_params(Wide())
    assert params["alpha"] == "1"
    assert params["nested.a"] == "None" and params["nested.b/c"] == "2.5"
    assert len(params["bad key_"]) == MAX_VALUE_LEN
