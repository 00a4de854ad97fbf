"""The retraining pipeline of the closed-loop test: newest labelled data → train → gate."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import HistGradientBoostingRegressor

import loopml
from loopml.data import DatasetVersion
from loopml.pipelines import current_client, current_run, validation_gate
from loopml.samples import TARGET


@loopml.step(cache=False)
def newest(name: str) -> DatasetVersion:
    return current_client().datasets.get(name)


@loopml.step
def train(data: DatasetVersion) -> dict[str, Any]:
    frame = current_client().datasets.load(data)
    features = frame.drop(columns=[TARGET])
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0)
    model.fit(features, frame[TARGET])
    run = current_run()
    run.log_model(model, input_example=features.head(5), register=False)
    return {"run_id": run.id}


@loopml.pipeline(name="bikes-retrain")
def retrain(dataset: str, holdout: str) -> Any:
    trained = train(newest(dataset))
    return validation_gate(trained, model="bikes", dataset=holdout, target=TARGET, metric="rmse")
