"""The demo's retraining pipeline: the newest labelled bike data → a small sweep → the gate;
and what keeps its online features current.

The controller launches `bikes_pipeline:retrain` by import path when the monitor's accuracy
alert opens (each step is cached: a second launch on the same data reuses every result), and
`bikes_pipeline:refresh_features` when the feature view's source gets a new version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

import loopml
from loopml.data import DatasetVersion
from loopml.pipelines import current_client, current_run, sweep, validation_gate
from loopml.samples import FEATURES, TARGET, bikeshare_features

MODEL = "bikes-demand"
HOLDOUT_SHARE = 0.2  # the newest fifth of the data, in time order, judges each candidate
SETTINGS = [
    {"rounds": 200, "rate": 0.1, "leaves": 31},
    {"rounds": 300, "rate": 0.05, "leaves": 63},
    {"rounds": 150, "rate": 0.15, "leaves": 15},
]


@loopml.step(cache=False)
def newest(name: str) -> DatasetVersion:
    """The latest version of `name` (never cached: a new version must be seen)."""
    return current_client().datasets.get(name)


@loopml.step
def train(data: DatasetVersion, rounds: int, rate: float, leaves: int) -> dict[str, Any]:
    """One candidate on all but the newest fifth of `data`, scored on that fifth."""
    frame = current_client().datasets.load(data).sort_values("timestamp", ignore_index=True)
    cut = int(len(frame) * (1 - HOLDOUT_SHARE))
    fit, check = frame.iloc[:cut], frame.iloc[cut:]
    model = HistGradientBoostingRegressor(
        max_iter=rounds, learning_rate=rate, max_leaf_nodes=leaves, random_state=0
    ).fit(bikeshare_features(fit), fit[TARGET])
    predicted = model.predict(bikeshare_features(check))
    scores = _scores(check[TARGET], predicted)
    run = current_run()
    run.log_params({"rounds": rounds, "rate": rate, "leaves": leaves, "features": len(FEATURES)})
    run.log_metrics({f"val_{k}": v for k, v in scores.items()}, step=0)
    run.log_model(model, input_example=bikeshare_features(check).head(5), register=False)
    return {"run_id": run.id, "val_rmse": scores["rmse"], "val_r2": scores["r2"]}


@loopml.pipeline(name="bikes-retrain")
def retrain(dataset: str = "bikes", holdout: str = "bikes-recent") -> Any:
    """Sweep three boosted-tree settings on the newest data; gate the best against champion."""
    data = newest(dataset)
    ranked = sweep(train, SETTINGS, metric="val_rmse", mode="min", data=data)
    return validation_gate(
        ranked[0]["output"], model=MODEL, dataset=holdout, target=TARGET, metric="rmse"
    )


def refresh_features(view: str, client: Any) -> dict[str, Any]:
    """Materialize `view` from the newest version of its source (a plain function: the
    controller passes its client)."""
    [run] = client.features.materialize([view])
    return {"view": view, "entities": run.entities, "source": run.source}


def _scores(truth: pd.Series, predicted: np.ndarray[Any, Any]) -> dict[str, float]:
    return {
        "rmse": float(root_mean_squared_error(truth, predicted)),
        "mae": float(mean_absolute_error(truth, predicted)),
        "r2": float(r2_score(truth, predicted)),
    }
