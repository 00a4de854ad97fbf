"""Scoring a model version on a dataset version: metrics, and fairness when asked.

Results are stored (`model_evaluations`), so model cards and approval checks reuse them.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sqlalchemy import Engine, select

from loopml.data import DatasetService, DatasetVersion
from loopml.errors import ValidationError
from loopml.governance import append_event, require
from loopml.governance.fairness import evaluate_fairness
from loopml.registry.packaging import LoadedModel
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.store import new_id
from loopml.store.schema import model_evaluations

#: Whether a larger value of each metric is better.
HIGHER_IS_BETTER = {
    "rmse": False,
    "mae": False,
    "r2": True,
    "accuracy": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
}


REPLAY = "replay"  # the kind of a replay of logged traffic (rollouts/replay.py)


def stored_replays(
    engine: Engine, version_id: str, deployment: str | None = None
) -> list[dict[str, Any]]:
    """The replays stored for a version (on `deployment` when given), newest first, each
    with its `evaluation_id` and `created_at`."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                model_evaluations.c.result, model_evaluations.c.created_at, model_evaluations.c.id
            )
            .where(
                model_evaluations.c.model_version_id == version_id,
                model_evaluations.c.kind == REPLAY,
            )
            .order_by(model_evaluations.c.created_at.desc())
        ).all()
    found = [
        {**dict(r.result), "evaluation_id": r.id, "created_at": float(r.created_at)} for r in rows
    ]
    return [f for f in found if deployment is None or f.get("deployment") == deployment]


def stored_evaluations(engine: Engine, version_id: str) -> list[dict[str, Any]]:
    """The evaluations stored for a version on labelled datasets (metrics or fairness, not
    replays), newest first; each holds `dataset` and `target`."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(model_evaluations.c.result)
            .where(
                model_evaluations.c.model_version_id == version_id,
                model_evaluations.c.kind.in_(("metrics", "fairness")),
            )
            .order_by(model_evaluations.c.created_at.desc(), model_evaluations.c.id.desc())
        ).all()
    return [dict(r.result) for r in rows]


def score(task: str, y_true: Any, y_pred: Any, y_proba: Any | None) -> dict[str, float]:
    """The standard metrics of a task on one set of predictions."""
    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1": float(
            skm.f1_score(y_true, y_pred, average="binary" if len(set(y_true)) <= 2 else "weighted")
        ),
    }
    if y_proba is not None:
        proba = np.asarray(y_proba)
        result["log_loss"] = float(skm.log_loss(y_true, proba))
        if proba.ndim == 2 and proba.shape[1] == 2:
            result["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
    return result


class EvaluationService:
    """Evaluate versions on dataset versions and keep the results."""

    def __init__(self, registry: RegistryService, datasets: DatasetService) -> None:
        self.registry = registry
        self.datasets = datasets
        self.stores = registry.stores

    def predictions(
        self, ref: str | ModelVersion, dataset: str | DatasetVersion, target: str
    ) -> tuple[pd.DataFrame, Any, Any, Any, Literal["classification", "regression"], LoadedModel]:
        version = self.registry.get_version(ref)
        data = self.datasets.get(dataset)
        frame = self.datasets.load(data)
        if target not in frame.columns:
            raise ValidationError(f"target column {target!r} is not in {data.uri}")
        model = self.registry.load(version)
        features = frame.drop(columns=[target])
        if model.signature is not None:
            features = model.signature.coerce(features)
        y_pred = model.predict(features)
        task: Literal["classification", "regression"] = (
            "classification" if model.has_proba else "regression"
        )
        y_proba = model.predict_proba(features) if model.has_proba else None
        return frame, frame[target].to_numpy(), np.asarray(y_pred), y_proba, task, model

    def evaluate(
        self,
        ref: str | ModelVersion,
        dataset: str | DatasetVersion,
        target: str,
        sensitive: list[str] | None = None,
        *,
        store: bool = True,
    ) -> dict[str, Any]:
        """Metrics (and per-group fairness with `sensitive`) of a version on a dataset."""
        version = self.registry.get_version(ref)
        data = self.datasets.get(dataset)
        frame, y_true, y_pred, y_proba, task, model = self.predictions(version, data, target)
        result: dict[str, Any] = {
            "dataset": data.uri,
            "target": target,
            "task": task,
            "rows": len(frame),
            "metrics": score(task, y_true, y_pred, y_proba),
        }
        if sensitive:
            missing = [c for c in sensitive if c not in frame.columns]
            if missing:
                raise ValidationError(f"sensitive columns {missing} are not in {data.uri}")
            options: dict[str, Any] = {}
            if task == "classification" and y_proba is not None:
                classes = list(getattr(model.raw, "classes_", []))
                if len(classes) == 2:
                    options = {"pos_label": classes[1], "y_score": np.asarray(y_proba)[:, 1]}
            report = evaluate_fairness(y_true, y_pred, frame[sensitive], task=task, **options)
            result["fairness"] = report.to_dict()
        if store:
            require(self.stores.actor, "write", "record evaluations")
            with self.stores.engine.begin() as conn:
                conn.execute(
                    model_evaluations.insert().values(
                        id=new_id("ev"),
                        model_version_id=version.id,
                        dataset_version_id=data.id,
                        kind="fairness" if sensitive else "metrics",
                        result=result,
                        created_by=self.stores.actor.name,
                        created_at=time.time(),
                    )
                )
                append_event(
                    conn,
                    self.stores.actor,
                    "model.evaluate",
                    version.uri,
                    {"dataset": data.uri, "metrics": result["metrics"]},
                )
        return result
