"""Direct loss estimation (DLE) for regressors, without labels.

A second model learns, on a labelled reference, how large the regressor's error tends to
be for given inputs and a given prediction: one gradient-boosting model for the absolute
error, one for the squared error. On a window, the mean of the predicted absolute errors
estimates the MAE and the root of the mean predicted squared error estimates the RMSE.

The band adds two sources of doubt. Sampling: even if each row's expected error were known,
a window of n rows realizes a random mean around it (the spread of the absolute error is
E[e²] - E[|e|]²; the squared error of a normal error spreads by √2 · E[e²]). Model: the loss
model itself is wrong by some share, measured by fitting it on all but one fold of the
reference and comparing its estimate with the realized error of the left-out fold. Where the
window leaves the reference's support (values never seen, a relation that changed) the
estimate can be too low, which is why realized metrics still count once labels arrive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from loopml.errors import ValidationError
from loopml.monitoring.estimation.estimate import Estimate, check_level, normal_band

METRICS = ("mae", "rmse")
MIN_REFERENCE_ROWS = 100
PREDICTION = "__prediction__"
FOLDS = 5


@dataclass(frozen=True)
class LossEstimator:
    """Two loss models (absolute and squared error) and their measured relative error."""

    columns: tuple[str, ...]
    absolute: HistGradientBoostingRegressor
    squared: HistGradientBoostingRegressor
    doubt: dict[str, float]  # metric → relative error of the estimate on held-out folds

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        prediction: Sequence[float] | np.ndarray[Any, Any],
        labels: Sequence[float] | np.ndarray[Any, Any],
        *,
        seed: int = 0,
    ) -> LossEstimator:
        """Learn the regressor's errors from a labelled reference it did not train on."""
        frame = _inputs(features, prediction)
        truth = np.asarray(labels, dtype=float)
        if len(truth) != len(frame):
            raise ValidationError(
                f"loss estimation needs one label per row: {len(truth)} labels, {len(frame)} rows"
            )
        keep = np.isfinite(truth) & np.isfinite(frame[PREDICTION].to_numpy(dtype=float))
        frame, truth = frame[keep].reset_index(drop=True), truth[keep]
        if len(truth) < MIN_REFERENCE_ROWS:
            raise ValidationError(
                f"loss estimation needs at least {MIN_REFERENCE_ROWS} labelled reference rows, "
                f"got {len(truth)}: give the monitor a larger labelled reference"
            )
        error = truth - frame[PREDICTION].to_numpy(dtype=float)
        # One thread: the fits are small, and OpenMP threads on a shared machine spin.
        with threadpool_limits(1):
            doubt = _held_out_doubt(frame, error, seed)
            return cls(
                tuple(frame.columns),
                _loss_model(seed).fit(frame, np.abs(error)),
                _loss_model(seed).fit(frame, error**2),
                doubt,
            )

    def expected_losses(
        self, features: pd.DataFrame, prediction: Sequence[float] | np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Each row's expected absolute and squared error."""
        frame = _inputs(features, prediction)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValidationError(
                f"the window lacks columns the loss model was fitted on: {missing}"
            )
        frame = frame[list(self.columns)]
        with threadpool_limits(1):
            absolute = np.clip(self.absolute.predict(frame), 0.0, None)
            squared = np.maximum(np.clip(self.squared.predict(frame), 0.0, None), absolute**2)
        return absolute, squared

    def estimate(
        self,
        features: pd.DataFrame,
        prediction: Sequence[float] | np.ndarray[Any, Any],
        *,
        level: float = 0.95,
    ) -> dict[str, Estimate]:
        """Estimated MAE and RMSE of a window, with a `level` band."""
        check_level(level)
        absolute, squared = self.expected_losses(features, prediction)
        n = len(absolute)
        if not n:
            return {}
        mae = float(absolute.mean())
        mse = float(squared.mean())
        spread_abs = math.sqrt(float(np.clip(squared - absolute**2, 0.0, None).sum())) / n
        spread_sq = math.sqrt(float((2.0 * squared**2).sum())) / n
        mae_se = math.hypot(spread_abs, self.doubt["mae"] * mae)
        mse_se = math.hypot(spread_sq, 2.0 * self.doubt["rmse"] * mse)
        square = normal_band(mse, mse_se, level)
        rmse = Estimate(
            math.sqrt(mse),
            math.sqrt(square.lower or 0.0),
            math.sqrt(square.upper or 0.0),
        )
        return {"mae": normal_band(mae, mae_se, level), "rmse": rmse}


def _loss_model(seed: int) -> HistGradientBoostingRegressor:
    # Shallow and slow-learning: the loss is noisy and the model must not memorise it.
    return HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        random_state=seed,
    )


def _inputs(
    features: pd.DataFrame, prediction: Sequence[float] | np.ndarray[Any, Any]
) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise ValidationError("loss estimation reads the model inputs as a DataFrame")
    values = np.asarray(prediction, dtype=float).reshape(-1)
    if len(values) != len(features):
        raise ValidationError(
            f"{len(values)} predictions for {len(features)} rows of inputs: give one per row"
        )
    numeric = features.select_dtypes(include=["number", "bool"]).astype(float)
    return numeric.reset_index(drop=True).assign(**{PREDICTION: values})


def _held_out_doubt(
    frame: pd.DataFrame, error: np.ndarray[Any, Any], seed: int
) -> dict[str, float]:
    """How far the loss model's window estimate lands from the realized error on folds of
    the reference it was not fitted on: the root mean square of the relative misses."""
    misses: dict[str, list[float]] = {"mae": [], "rmse": []}
    folds = KFold(FOLDS, shuffle=False)  # contiguous folds: rows close in time stay together
    for train, test in folds.split(frame):
        part = frame.iloc[train]
        absolute = np.clip(
            _loss_model(seed).fit(part, np.abs(error[train])).predict(frame.iloc[test]), 0.0, None
        )
        squared = np.clip(
            _loss_model(seed).fit(part, error[train] ** 2).predict(frame.iloc[test]), 0.0, None
        )
        realized_mae = float(np.abs(error[test]).mean())
        realized_rmse = float(np.sqrt((error[test] ** 2).mean()))
        if realized_mae > 0:
            misses["mae"].append(absolute.mean() / realized_mae - 1.0)
        if realized_rmse > 0:
            misses["rmse"].append(math.sqrt(squared.mean()) / realized_rmse - 1.0)
    return {k: float(np.sqrt(np.mean(np.square(v)))) if v else 0.0 for k, v in misses.items()}
