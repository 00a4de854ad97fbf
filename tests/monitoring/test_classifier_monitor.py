"""A monitor on a classifier: accuracy, F1, ROC AUC and log-loss in the model's class order."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.sdk import Client
from tests.monitoring.conftest import T0


def test_classifier_quality_uses_the_models_class_order(client: Client) -> None:
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    names = ["malignant", "benign"]
    labels = np.array(names)[target.to_numpy()]  # string classes: classes_ sorts them
    train, live = frame.iloc[:400], frame.iloc[400:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(train, labels[:400])
    reference = client.log_dataset("cancer-train", train)
    with client.start_run("cancer", capture_code=False, inputs=[reference]) as run:
        version = run.log_model(model, name="cancer", input_example=train.head(5))
    client.deployments.create("cancer-api", version.uri)
    client.monitors.create("cancer", "cancer-api", window=f"{len(live)} rows")

    predicted = model.predict(live)
    proba = model.predict_proba(live)
    with PredictionLog(client.stores) as log:
        for i in range(len(live)):
            log.record(
                PredictionRecord(
                    deployment="cancer-api",
                    request_id=f"r{i}",
                    model=version.uri,
                    inputs=[live.iloc[i].to_dict()],
                    outputs=[str(predicted[i])],
                    probabilities=[[float(p) for p in proba[i]]],
                    latency_ms=2.0,
                    at=T0 + i,
                )
            )
            log.record_feedback("cancer-api", f"r{i}", str(labels[400 + i]), at=T0 + i + 0.5)
    [run_] = client.monitors.run("cancer")
    quality = run_.result.window.performance
    assert quality is not None and quality.task == "classification"
    truth = labels[400:]
    positive = 1  # the second of the model's classes_ is the positive class
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "log_loss": log_loss(truth, proba, labels=list(model.classes_)),
        "roc_auc": roc_auc_score(truth, proba[:, positive]),
    }
    for key, value in expected.items():
        assert quality.metrics[key] is not None
        assert abs(quality.metrics[key] - value) < 1e-9, key
    assert quality.metrics["f1"] == f1_score(truth, predicted, pos_label=model.classes_[1])
    assert quality.labelled_rows == len(live)


def test_a_window_with_one_class_still_gets_log_loss_from_the_models_classes(
    client: Client,
) -> None:
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    labels = np.array(["malignant", "benign"])[target.to_numpy()]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(frame, labels)
    reference = client.log_dataset("cancer-train", frame)
    with client.start_run("cancer", capture_code=False, inputs=[reference]) as run:
        version = run.log_model(model, name="cancer", input_example=frame.head(5))
    client.deployments.create("cancer-api", version.uri)
    client.monitors.create("cancer", "cancer-api", window="30 rows")
    benign = frame[labels == "benign"].iloc[:30]
    proba = model.predict_proba(benign)
    with PredictionLog(client.stores) as log:
        for i in range(len(benign)):
            log.record(
                PredictionRecord(
                    deployment="cancer-api",
                    request_id=f"b{i}",
                    model=version.uri,
                    inputs=[benign.iloc[i].to_dict()],
                    outputs=["benign"],
                    probabilities=[[float(p) for p in proba[i]]],
                    latency_ms=1.0,
                    at=T0 + i,
                )
            )
            log.record_feedback("cancer-api", f"b{i}", "benign", at=T0 + i + 0.5)
    [window] = client.monitors.run("cancer")
    metrics = window.result.window.performance.metrics
    expected = log_loss(["benign"] * 30, proba, labels=list(model.classes_))
    assert metrics["log_loss"] is not None and abs(metrics["log_loss"] - expected) < 1e-9
    assert metrics["roc_auc"] is None  # one class only: undefined, said so, not faked
