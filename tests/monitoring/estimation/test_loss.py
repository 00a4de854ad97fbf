"""DLE: a loss model fitted on a labelled reference estimates the MAE and RMSE of windows
it never saw labels of, within its band, while the reference describes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.monitoring.estimation import LossEstimator


def noisy(
    rng: np.random.Generator, n: int, low: float, high: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A regressor that is exact on average but whose noise grows with `x`."""
    x = rng.uniform(low, high, n)
    prediction = 3 * x
    truth = prediction + rng.normal(0, 0.5 + x, n)
    return pd.DataFrame({"x": x}), prediction, truth


@pytest.mark.slow
def test_estimates_follow_the_error_where_inputs_move_and_the_band_covers() -> None:
    rng = np.random.default_rng(11)
    features, prediction, truth = noisy(rng, 3000, 0, 4)
    estimator = LossEstimator.fit(features, prediction, truth)
    covered = {"mae": 0, "rmse": 0}
    estimated_rmse, realized_rmse = [], []
    ranges = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)] * 4
    for seed, (low, high) in enumerate(ranges):
        window, predicted, labels = noisy(np.random.default_rng(50 + seed), 400, low, high)
        found = estimator.estimate(window, predicted)
        error = labels - predicted
        realized = {"mae": np.abs(error).mean(), "rmse": np.sqrt((error**2).mean())}
        for metric, value in realized.items():
            covered[metric] += found[metric].covers(value)
        estimated_rmse.append(found["rmse"].value)
        realized_rmse.append(realized["rmse"])
    # the estimate tracks the window's error as its inputs move (quiet → noisy ranges)
    assert np.corrcoef(estimated_rmse, realized_rmse)[0, 1] > 0.95
    for metric, hits in covered.items():
        assert hits / len(ranges) >= 0.85, (metric, hits)


@pytest.mark.slow
def test_bad_inputs_say_what_is_wrong() -> None:
    rng = np.random.default_rng(0)
    features, prediction, truth = noisy(rng, 50, 0, 1)
    with pytest.raises(ValidationError, match="at least 100"):
        LossEstimator.fit(features, prediction, truth)
    with pytest.raises(ValidationError, match="one per row"):
        LossEstimator.fit(features, prediction[:10], truth)
    features, prediction, truth = noisy(rng, 300, 0, 1)
    fitted = LossEstimator.fit(features, prediction, truth)
    with pytest.raises(ValidationError, match="lacks columns"):
        fitted.estimate(pd.DataFrame({"y": [1.0]}), [1.0])
