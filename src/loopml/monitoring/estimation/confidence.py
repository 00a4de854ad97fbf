"""Confidence-based performance estimation (CBPE) for classifiers, without labels.

A classifier's scores say how sure it is, but rarely with honest odds. Calibrated on a
labelled reference (isotonic regression per class, one against the rest), a score becomes
the probability that the row belongs to the class. Then a window's confusion matrix can be
estimated without a single label: a row predicted as class c adds p_c to the expected true
positives of c and 1 - p_c to its false positives, and so on. Accuracy, F1 and ROC AUC
follow from those expected counts.

The band is what the realized metric would spread over if the calibrated probabilities
held in the window: labels are drawn from them many times and the metric recomputed on
each draw. It says how much a window of this size can move by chance; it cannot see a
change of the relation between inputs and outcome (concept shift), which no label-free
method can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata  # type: ignore[import-untyped]
from sklearn.isotonic import IsotonicRegression

from loopml.errors import ValidationError
from loopml.monitoring.estimation.estimate import Estimate, band

Array = np.ndarray[Any, Any]
METRICS = ("accuracy", "f1", "roc_auc")
MIN_REFERENCE_ROWS = 50


@dataclass(frozen=True)
class ConfidenceEstimator:
    """Per-class isotonic calibrators fitted on a labelled reference."""

    classes: tuple[Any, ...]
    calibrators: tuple[IsotonicRegression, ...]

    @classmethod
    def fit(
        cls, proba: Array, labels: Sequence[Any], classes: Sequence[Any]
    ) -> ConfidenceEstimator:
        """Calibrate `proba` (a row per prediction, a column per class in the order of
        `classes`) against `labels`."""
        scores = _matrix(proba, len(classes))
        truth = np.asarray(list(labels), dtype=object)
        if len(truth) != len(scores):
            raise ValidationError(
                f"calibration needs one label per row: {len(truth)} labels, {len(scores)} rows"
            )
        if len(truth) < MIN_REFERENCE_ROWS:
            raise ValidationError(
                f"calibration needs at least {MIN_REFERENCE_ROWS} labelled reference rows, "
                f"got {len(truth)}: give the monitor a larger labelled reference"
            )
        fitted = []
        for column, value in enumerate(classes):
            hits = (truth == value).astype(float)
            if hits.min() == hits.max():
                raise ValidationError(
                    f"the reference's labels never (or always) hold class {value!r}: "
                    "calibration needs both outcomes of every class"
                )
            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            fitted.append(model.fit(scores[:, column], hits))
        return cls(tuple(classes), tuple(fitted))

    def calibrated(self, proba: Array) -> Array:
        """Calibrated probabilities, each row summing to one."""
        scores = _matrix(proba, len(self.classes))
        out = np.column_stack(
            [model.predict(scores[:, i]) for i, model in enumerate(self.calibrators)]
        )
        if out.shape[1] == 2:  # one calibrator is enough for two classes: keep them consistent
            out[:, 0] = 1.0 - out[:, 1]
        totals = out.sum(axis=1, keepdims=True)
        flat = totals[:, 0] <= 0
        out[flat] = 1.0 / out.shape[1]
        totals[flat] = 1.0
        return np.asarray(out / totals)

    def estimate(
        self, proba: Array, *, level: float = 0.95, draws: int = 400, seed: int = 0
    ) -> dict[str, Estimate]:
        """Expected accuracy, F1 and ROC AUC of a window, with a `level` band."""
        scores = _matrix(proba, len(self.classes))
        if not len(scores):
            return {}
        calibrated = self.calibrated(scores)
        predicted = scores.argmax(axis=1)
        expected = {
            "accuracy": float(calibrated[np.arange(len(scores)), predicted].mean()),
            "f1": _expected_f1(calibrated, predicted),
            "roc_auc": _expected_auc(calibrated, scores),
        }
        drawn = _draw_labels(calibrated, draws, seed)
        spread = {
            "accuracy": (drawn == predicted[None, :]).mean(axis=1),
            "f1": _f1_draws(drawn, predicted, scores.shape[1]),
            "roc_auc": _auc_draws(drawn, scores),
        }
        return {name: band(expected[name], spread[name], level) for name in METRICS}


def _matrix(proba: Array, classes: int) -> Array:
    scores = np.asarray(proba, dtype=float)
    if scores.ndim == 1:
        scores = np.column_stack([1.0 - scores, scores])
    if scores.ndim != 2 or scores.shape[1] != classes or classes < 2:
        raise ValidationError(
            f"probabilities must have one column per class ({classes}), got shape {scores.shape}"
        )
    if np.isnan(scores).any():
        raise ValidationError("probabilities hold missing values: drop those rows first")
    return scores


def _expected_f1(calibrated: Array, predicted: Array) -> float | None:
    """F1 of the positive class (two classes) or the macro average, from expected counts."""
    k = calibrated.shape[1]
    classes = [1] if k == 2 else list(range(k))
    values = []
    for c in classes:
        mine = predicted == c
        tp = calibrated[mine, c].sum()
        fp = (1.0 - calibrated[mine, c]).sum()
        fn = calibrated[~mine, c].sum()
        denominator = 2 * tp + fp + fn
        values.append(2 * tp / denominator if denominator > 0 else 0.0)
    return float(np.mean(values))


def _expected_auc(calibrated: Array, scores: Array) -> float | None:
    """ROC AUC where each row counts as positive with weight p and negative with 1 - p,
    ranked by the model's own scores (one against the rest, macro, for many classes)."""
    k = calibrated.shape[1]
    classes = [1] if k == 2 else list(range(k))
    values = []
    for c in classes:
        positive, negative = calibrated[:, c], 1.0 - calibrated[:, c]
        order = np.argsort(scores[:, c], kind="mergesort")
        s, wp, wn = scores[order, c], positive[order], negative[order]
        below = np.cumsum(wn) - wn  # negatives strictly before, ties fixed next
        _, first, counts = np.unique(s, return_index=True, return_counts=True)
        tie_sum = np.add.reduceat(wn, first)
        group = np.repeat(np.arange(len(first)), counts)
        strictly_below = below[first][group]
        pairs = wp * (strictly_below + 0.5 * tie_sum[group])
        total = wp.sum() * wn.sum()
        if total <= 0:
            return None
        values.append(pairs.sum() / total)
    return float(np.mean(values))


def _draw_labels(calibrated: Array, draws: int, seed: int) -> Array:
    """`draws` label vectors (class indices), each row drawn from its calibrated odds."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(calibrated, axis=1)
    uniform = rng.random((draws, len(calibrated), 1))
    drawn: Array = (uniform > cumulative[None, :, :]).sum(axis=2)
    return np.asarray(np.minimum(drawn, calibrated.shape[1] - 1))


def _f1_draws(drawn: Array, predicted: Array, k: int) -> Array:
    classes = [1] if k == 2 else list(range(k))
    values = []
    for c in classes:
        truth, mine = drawn == c, (predicted == c)[None, :]
        tp = (truth & mine).sum(axis=1)
        fp = (~truth & mine).sum(axis=1)
        fn = (truth & ~mine).sum(axis=1)
        denominator = 2 * tp + fp + fn
        values.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    return np.asarray(np.mean(values, axis=0))


def _auc_draws(drawn: Array, scores: Array) -> Array:
    k = scores.shape[1]
    classes = [1] if k == 2 else list(range(k))
    values = []
    for c in classes:
        ranks = rankdata(scores[:, c])
        truth = drawn == c
        positives = truth.sum(axis=1)
        negatives = truth.shape[1] - positives
        rank_sum = truth.astype(float) @ ranks
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
        values.append(auc)
    return np.asarray(np.mean(values, axis=0))
