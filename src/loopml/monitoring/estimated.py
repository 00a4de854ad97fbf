"""A deployment window's performance estimated from its predictions alone.

The estimator is fitted once per (model version, labelled reference) and reused across
windows: the model scores the reference, and its answers and the reference's target teach
the calibrators (classifiers, CBPE) or the loss models (regressors, DLE). The reference
should be labelled data the model did not train on — a hold-out — since a model's errors
on its own training rows are smaller than on anything new; a monitor names it with
`estimate_reference` (default: the monitor's reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.data import DatasetService, DatasetVersion
from loopml.errors import ValidationError
from loopml.monitoring.definition import Monitor
from loopml.monitoring.estimation import ConfidenceEstimator, LossEstimator
from loopml.monitoring.estimation.estimate import Estimate
from loopml.monitoring.performance import normalise, performance
from loopml.monitoring.results import EMPTY, OK, EstimatedPerformance
from loopml.registry import ModelVersion, RegistryService

LEVEL = 0.95
UNAVAILABLE = "unavailable"
INPUT = "in_"


@dataclass(frozen=True)
class FittedEstimator:
    """A fitted CBPE or DLE estimator and what it reads from a window."""

    method: str  # "cbpe" | "dle"
    inputs: list[str]
    confidence: ConfidenceEstimator | None = None
    loss: LossEstimator | None = None

    def estimate(self, window: pd.DataFrame, level: float = LEVEL) -> dict[str, Estimate]:
        """The window's estimated metrics, each with a `level` band."""
        if self.confidence is not None:
            proba = _proba(window, len(self.confidence.classes))
            return self.confidence.estimate(proba, level=level)
        assert self.loss is not None
        missing = [c for c in self.inputs if f"{INPUT}{c}" not in window.columns]
        if missing:
            raise ValidationError(f"the prediction log holds no inputs {missing} for this window")
        features = pd.DataFrame({c: window[f"{INPUT}{c}"] for c in self.inputs})
        predicted = window["prediction"].to_numpy(dtype=float)
        return self.loss.estimate(features, predicted, level=level)


class PerformanceEstimates:
    """Fits estimators on demand (cached) and estimates windows of a deployment's log."""

    def __init__(self, datasets: DatasetService, registry: RegistryService) -> None:
        self.datasets = datasets
        self.registry = registry
        self._fitted: dict[tuple[str, str], FittedEstimator | str] = {}

    def reference(self, monitor: Monitor, default: DatasetVersion) -> DatasetVersion:
        """The labelled data the estimator learns from."""
        named = monitor.config.estimate_reference
        return default if named is None else self.datasets.get(named)

    def window(
        self,
        monitor: Monitor,
        model: ModelVersion,
        reference: DatasetVersion,
        rows: pd.DataFrame,
    ) -> EstimatedPerformance:
        """The estimate for the rows `model` answered in the window (`rows`: prediction-log
        rows with `model`, `in_*` inputs, `prediction`, `proba_*` and `label`)."""
        fitted = self.fitted(monitor, model, reference)
        mine = rows[rows["model"] == model.uri].reset_index(drop=True) if len(rows) else rows
        if isinstance(fitted, str):
            return EstimatedPerformance(
                "", model.uri, len(mine), LEVEL, status=UNAVAILABLE, message=fitted
            )
        if mine.empty:
            return EstimatedPerformance(
                fitted.method,
                model.uri,
                0,
                LEVEL,
                status=EMPTY,
                message=f"{model.uri} answered no request in this window",
            )
        try:
            estimates = fitted.estimate(mine)
        except ValidationError as exc:
            return EstimatedPerformance(
                fitted.method, model.uri, len(mine), LEVEL, status=UNAVAILABLE, message=str(exc)
            )
        task = "classification" if fitted.method == "cbpe" else "regression"
        classes = list(fitted.confidence.classes) if fitted.confidence else None
        realized = performance(mine, task=task, labels=classes)
        return EstimatedPerformance(
            method=fitted.method,
            model=model.uri,
            rows=len(mine),
            level=LEVEL,
            metrics={k: v.to_dict() for k, v in estimates.items()},
            realized={k: realized.metrics.get(k) for k in estimates}
            if realized.status == OK
            else {},
            labelled_rows=realized.labelled_rows,
        )

    def fitted(
        self, monitor: Monitor, model: ModelVersion, reference: DatasetVersion
    ) -> FittedEstimator | str:
        """The estimator of `model` on `reference`, or why there is none."""
        key = (model.id, reference.id)
        if key not in self._fitted:
            try:
                self._fitted[key] = self._fit(monitor, model, reference)
            except ValidationError as exc:
                self._fitted[key] = f"no estimator for {model.uri} on {reference.uri}: {exc}"
        return self._fitted[key]

    def _fit(
        self, monitor: Monitor, model: ModelVersion, reference: DatasetVersion
    ) -> FittedEstimator:
        inputs = model_inputs(model, reference)
        target = _target(monitor, reference, inputs)
        return fit_estimator(
            self.datasets, self.registry, model, reference, target, monitor.config.task
        )


def model_inputs(model: ModelVersion, reference: DatasetVersion) -> list[str]:
    """The model's inputs (its signature), which the reference must all hold."""
    inputs = [str(spec["name"]) for spec in (model.signature or {}).get("inputs", [])]
    if not inputs or not set(inputs) <= set(reference.columns):
        raise ValidationError(
            "the reference must hold every model input (the model's signature names them)"
        )
    return inputs


def fit_estimator(
    datasets: DatasetService,
    registry: RegistryService,
    model: ModelVersion,
    reference: DatasetVersion,
    target: str,
    task: str | None = None,
) -> FittedEstimator:
    """CBPE (a classifier with probabilities) or DLE (a regressor) for `model`, fitted on
    its answers to the labelled `reference` (`target`: the label column)."""
    inputs = model_inputs(model, reference)
    if target not in reference.columns:
        raise ValidationError(f"the reference {reference.uri} has no target column {target!r}")
    frame = datasets.load(reference, [*inputs, target])
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if frame.empty:
        raise ValidationError(
            f"the reference {reference.uri} has no row with a value in {target!r}: the "
            "estimate learns from labelled rows"
        )
    loaded = registry.load(model)
    predicted, proba = loaded.predict_both(frame[inputs])
    classes = getattr(loaded.raw, "classes_", None)
    if task != "regression" and proba is not None and classes is not None:
        order = [normalise(c) for c in classes]
        labels = [normalise(v) for v in frame[target]]
        calibrated = ConfidenceEstimator.fit(np.asarray(proba), labels, order)
        return FittedEstimator("cbpe", inputs, confidence=calibrated)
    if task == "classification":
        raise ValidationError("a classifier needs probabilities (predict_proba) for CBPE")
    values = np.asarray(predicted, dtype=float).reshape(len(frame), -1)[:, 0]
    loss = LossEstimator.fit(frame[inputs], values, frame[target].astype(float).to_numpy())
    return FittedEstimator("dle", inputs, loss=loss)


def _target(monitor: Monitor, reference: DatasetVersion, inputs: list[str]) -> str:
    if monitor.config.target is not None:
        if monitor.config.target not in reference.columns:
            raise ValidationError(f"the reference has no target column {monitor.config.target!r}")
        return monitor.config.target
    left = [
        c
        for c in reference.columns
        if c not in {*inputs, "prediction", reference.time_column, monitor.config.prediction}
    ]
    if len(left) != 1:
        raise ValidationError(
            f"the reference's target is ambiguous ({left or 'no column left'}): name it with "
            "the monitor's target"
        )
    return left[0]


def _proba(window: pd.DataFrame, classes: int) -> Any:
    names = [f"proba_{i}" for i in range(classes)]
    missing = [n for n in names if n not in window.columns]
    if missing:
        raise ValidationError(
            f"the prediction log holds no probabilities ({', '.join(missing)}) for this window"
        )
    matrix = window[names].to_numpy(dtype=float)
    complete = ~np.isnan(matrix).any(axis=1)
    if not complete.any():
        raise ValidationError("no row of the window has probabilities")
    return matrix[complete]
