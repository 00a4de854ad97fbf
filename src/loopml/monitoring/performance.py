"""Model quality of a window: predictions joined with their feedback labels.

Labels travel through JSON and Parquet, so a class may come back as `"1"` while the model
predicted `1` (or `1.0`, or `True`). Both sides are normalised the same way before anything
is compared: numbers that are whole become ints, numeric strings become numbers, and when
the two sides still mix numbers and text everything is compared as text.

Task rule (when `task` is not given): classification when `labels` are given or the rows
carry `proba_<i>` columns; regression when every label and prediction is a number and
either some value is not whole or there are more than `MAX_CLASSES` distinct values;
classification otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
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
from loopml.monitoring.results import EMPTY, OK, PerformanceResult

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
NO_LABELS = "no_labels"
MAX_CLASSES = 20  # more distinct whole numbers than this reads as a regression target
CLASSIFICATION_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse", "r2")


def performance(
    frame: pd.DataFrame | pa.Table,
    *,
    task: str | None = None,
    labels: Sequence[Any] | None = None,
    min_class_rows: int | None = None,
) -> PerformanceResult:
    """Metrics of the rows that have a label; `rows` counts every prediction given.

    With `min_class_rows`, `f1` and `roc_auc` are None (and the message says why) unless
    every class has at least that many labelled rows: an AUC over 9 positives is noise.

    `frame` has `prediction`, `label` (null where no feedback came yet) and, for
    classifiers, `proba_<i>` in the order of `labels` (the model's `classes_`). Without
    `labels` the class order is the sorted classes seen, used only when their number
    matches the probability columns.
    """
    if task is not None and task not in TASKS:
        raise ValidationError(f"task {task!r} is unknown: use 'classification' or 'regression'")
    data = frame.to_pandas() if isinstance(frame, pa.Table) else frame
    for column in ("prediction", "label"):
        if column not in data.columns:
            raise ValidationError(f"performance needs a {column!r} column; got {list(data)}")
    rows = len(data)
    if rows == 0:
        forced = _task(task)
        return PerformanceResult(forced, 0, 0, status=EMPTY, message="the window has no rows")
    predicted = [normalise(v) for v in data["prediction"]]
    truth = [normalise(v) for v in data["label"]]
    labelled = [i for i, value in enumerate(truth) if value is not None]
    proba = _proba_columns(data)
    chosen = _task(task) or infer_task(
        [truth[i] for i in labelled], predicted, has_proba=bool(proba) or labels is not None
    )
    if not labelled:
        return PerformanceResult(
            chosen,
            rows,
            0,
            status=NO_LABELS,
            message=f"none of the {rows} predictions has a label yet",
        )
    y_true = [truth[i] for i in labelled]
    y_pred = [predicted[i] for i in labelled]
    if chosen == "regression":
        metrics, notes = regression_metrics(y_true, y_pred)
    else:
        matrix = data[proba].to_numpy(dtype=float)[labelled] if proba else None
        metrics, notes = classification_metrics(
            y_true, y_pred, matrix, labels, min_class_rows=min_class_rows
        )
    return PerformanceResult(
        chosen, rows, len(labelled), metrics, status=OK, message="; ".join(notes) or None
    )


def normalise(value: Any) -> Hashable | None:
    """One canonical form per class value: None for missing, whole numbers as int."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return int(text.lower() == "true")
        try:
            number = float(text)
        except ValueError:
            return text
        return normalise(number) if math.isfinite(number) else text
    return str(value)


def infer_task(truth: Sequence[Any], predicted: Sequence[Any], *, has_proba: bool) -> Task:
    """The task rule of the module docstring."""
    if has_proba:
        return "classification"
    values = [v for v in [*truth, *predicted] if v is not None]
    if not values or not all(isinstance(v, int | float) for v in values):
        return "classification"
    if any(isinstance(v, float) for v in values) or len(set(values)) > MAX_CLASSES:
        return "regression"
    return "classification"


def regression_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any]
) -> tuple[dict[str, float | None], list[str]]:
    """MAE, RMSE and R² over the pairs where both sides are numbers."""
    metrics: dict[str, float | None] = dict.fromkeys(REGRESSION_METRICS)
    pairs = [
        (float(t), float(p))
        for t, p in zip(y_true, y_pred, strict=True)
        if isinstance(t, int | float) and isinstance(p, int | float)
    ]
    notes = []
    if len(pairs) < len(y_true):
        notes.append(f"{len(y_true) - len(pairs)} labelled rows are not numbers and were skipped")
    if not pairs:
        return metrics, notes
    t, p = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    metrics["mae"] = float(mean_absolute_error(t, p))
    metrics["rmse"] = float(root_mean_squared_error(t, p))
    if len(pairs) >= 2:
        metrics["r2"] = float(r2_score(t, p))
    else:
        notes.append("r2 needs at least 2 labelled rows")
    return metrics, notes


def classification_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    proba: np.ndarray[Any, Any] | None,
    labels: Sequence[Any] | None,
    *,
    min_class_rows: int | None = None,
) -> tuple[dict[str, float | None], list[str]]:
    """Accuracy and F1 always; ROC AUC and log-loss when the probabilities can be mapped.

    Multi-class F1 and ROC AUC are macro averages over every class of the model: a class
    without labels in the window makes them undefined (None, said in the message) rather
    than an average over the classes present, which would change meaning between windows.
    """
    metrics: dict[str, float | None] = dict.fromkeys(CLASSIFICATION_METRICS)
    notes: list[str] = []
    classes = [normalise(c) for c in labels] if labels is not None else None
    truth, predicted, classes = _comparable(y_true, y_pred, classes)
    seen = sorted({*truth, *predicted})
    order = classes if classes is not None else seen
    metrics["accuracy"] = float(accuracy_score(truth, predicted))
    if len(order) == 2:
        positive = order[1]
        metrics["f1"] = float(
            f1_score(truth, predicted, pos_label=positive, average="binary", zero_division=0)
        )
        notes.append(f"f1 of the positive class {positive!r}")
    elif len(order) > 2:
        absent = [c for c in order if c not in set(truth)]
        if absent:
            notes.append(f"f1 is undefined: classes {absent} have no labels in the window")
        else:
            metrics["f1"] = float(
                f1_score(truth, predicted, labels=order, average="macro", zero_division=0)
            )
            notes.append(f"f1 is the macro average over all {len(order)} classes")
    else:
        notes.append("f1 needs two classes: pass labels= (the model's classes)")
    scarce = _scarce(truth, order, min_class_rows)
    if proba is None:
        _withhold(metrics, notes, scarce, min_class_rows)
        notes.append("no probabilities were logged: roc_auc and log_loss need them")
        return metrics, notes
    if len(order) != proba.shape[1]:
        notes.append(
            f"{len(order)} classes but {proba.shape[1]} probability columns: pass labels= "
            "(the model's classes_, in order) for roc_auc and log_loss"
        )
        return metrics, notes
    complete = ~np.isnan(proba).any(axis=1)
    if not complete.all():
        notes.append(f"{int((~complete).sum())} rows without probabilities were skipped")
    kept = [t for t, ok in zip(truth, complete, strict=True) if ok]
    matrix = proba[complete]
    metrics["roc_auc"], note = _roc_auc(kept, matrix, order)
    notes += [note] if note else []
    metrics["log_loss"], note = _log_loss(kept, matrix, order)
    notes += [note] if note else []
    _withhold(metrics, notes, scarce, min_class_rows)
    return metrics, notes


def _scarce(truth: list[Any], order: list[Any], minimum: int | None) -> dict[Any, int]:
    """Classes with fewer labelled rows than `minimum`, with their counts."""
    if not minimum or len(order) < 2:
        return {}
    counts = {c: 0 for c in order}
    for t in truth:
        if t in counts:
            counts[t] += 1
    return {c: n for c, n in counts.items() if n < minimum}


def _withhold(
    metrics: dict[str, float | None], notes: list[str], scarce: dict[Any, int], minimum: int | None
) -> None:
    """F1 and ROC AUC from too few rows of a class are noise: None, and say why."""
    if not scarce:
        return
    for name in ("f1", "roc_auc"):
        metrics[name] = None
    few = ", ".join(f"{c!r}: {n}" for c, n in scarce.items())
    notes.append(
        f"f1 and roc_auc withheld: classes need {minimum} labelled rows each (min_class_rows), "
        f"got {few}"
    )


def _comparable(
    y_true: Sequence[Any], y_pred: Sequence[Any], classes: list[Any] | None
) -> tuple[list[Any], list[Any], list[Any] | None]:
    """Everything as numbers when all are numbers, else everything as text (sortable)."""
    values = [*y_true, *y_pred, *(classes or [])]
    if all(isinstance(v, int | float) for v in values):
        return list(y_true), list(y_pred), classes
    text = [str(v) for v in y_true], [str(v) for v in y_pred]
    return text[0], text[1], None if classes is None else [str(c) for c in classes]


def _roc_auc(
    truth: list[Any], proba: np.ndarray[Any, Any], order: list[Any]
) -> tuple[float | None, str | None]:
    present = set(truth)
    if len(present) < 2:
        return None, "roc_auc needs labels of at least two classes"
    if len(order) == 2:
        positive = [t == order[1] for t in truth]
        return float(roc_auc_score(positive, proba[:, 1])), None
    # One-vs-rest, macro over every class: a class without labels here has no ROC curve,
    # and averaging the others would make windows incomparable.
    absent = [c for c in order if c not in present]
    if absent:
        return None, f"roc_auc is undefined: classes {absent} have no labels in the window"
    scores = [roc_auc_score([t == cls for t in truth], proba[:, i]) for i, cls in enumerate(order)]
    note = f"roc_auc is one-vs-rest, macro average over all {len(scores)} classes"
    return float(np.mean(scores)), note


def _log_loss(
    truth: list[Any], proba: np.ndarray[Any, Any], order: list[Any]
) -> tuple[float | None, str | None]:
    unknown = sorted({str(t) for t in truth if t not in order})
    if unknown:
        return None, f"log_loss: labels {unknown} are not among the classes {order}"
    if not truth:
        return None, None
    # scikit-learn reads probability columns in sorted class order: reorder ours to match.
    columns = sorted(range(len(order)), key=lambda i: order[i])
    try:
        score = log_loss(truth, proba[:, columns], labels=[order[i] for i in columns])
    except ValueError as exc:
        return None, f"log_loss could not be computed: {exc}"
    return float(score), None


def _proba_columns(frame: pd.DataFrame) -> list[str]:
    names = [str(c) for c in frame.columns if str(c).startswith("proba_") and str(c)[6:].isdigit()]
    names.sort(key=lambda n: int(n[6:]))
    return [n for n in names if frame[n].notna().any()]


def _task(task: str | None) -> Task | None:
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    return None
