"""CBPE: estimates from calibrated scores match the realized metrics when the scores' odds
hold, and the band covers the realized value about as often as it says."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from loopml.errors import ValidationError
from loopml.monitoring.estimation import ConfidenceEstimator


def overconfident(
    rng: np.random.Generator, n: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Scores that overstate the odds (squashed logits), labels drawn from the true odds."""
    x = rng.normal(shift, 1.0, n)
    truth = 1 / (1 + np.exp(-x))
    labels = (rng.random(n) < truth).astype(int)
    score = 1 / (1 + np.exp(-3 * x))  # too sure of itself
    return np.column_stack([1 - score, score]), labels


@pytest.mark.slow
def test_calibration_corrects_overconfident_scores_and_the_band_covers() -> None:
    rng = np.random.default_rng(7)
    proba, labels = overconfident(rng, 5000)
    estimator = ConfidenceEstimator.fit(proba, labels.tolist(), [0, 1])
    covered = {"accuracy": 0, "f1": 0, "roc_auc": 0}
    raw_error, calibrated_error = [], []
    windows = 40
    for seed in range(windows):
        window, truth = overconfident(np.random.default_rng(100 + seed), 500, shift=0.5)
        found = estimator.estimate(window, seed=seed)
        predicted = window.argmax(axis=1)
        realized = {
            "accuracy": accuracy_score(truth, predicted),
            "f1": f1_score(truth, predicted),
            "roc_auc": roc_auc_score(truth, window[:, 1]),
        }
        for metric, value in realized.items():
            covered[metric] += found[metric].covers(value)
        raw_error.append(abs(window.max(axis=1).mean() - realized["accuracy"]))
        calibrated_error.append(abs(found["accuracy"].value - realized["accuracy"]))
    assert np.mean(calibrated_error) < np.mean(raw_error) / 3
    for metric, hits in covered.items():
        assert hits / windows >= 0.85, (metric, hits)


def test_multi_class_estimates_are_macro_averages_within_range() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3000, 3)) * 2
    odds = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = [int(rng.choice(3, p=p)) for p in odds]
    estimator = ConfidenceEstimator.fit(odds, labels, [0, 1, 2])
    found = estimator.estimate(odds[:600])
    realized = accuracy_score(labels[:600], odds[:600].argmax(axis=1))
    assert found["accuracy"].covers(realized)
    for item in found.values():
        assert item.lower is not None and item.upper is not None
        assert 0 <= item.lower <= item.value <= item.upper <= 1


def test_bad_inputs_say_what_is_wrong() -> None:
    proba = np.full((100, 2), 0.5)
    with pytest.raises(ValidationError, match="never \\(or always\\)"):
        ConfidenceEstimator.fit(proba, [1] * 100, [0, 1])
    with pytest.raises(ValidationError, match="at least 50"):
        ConfidenceEstimator.fit(proba[:10], [0, 1] * 5, [0, 1])
    with pytest.raises(ValidationError, match="one column per class"):
        ConfidenceEstimator.fit(np.full((100, 3), 0.3), [0, 1] * 50, [0, 1])
