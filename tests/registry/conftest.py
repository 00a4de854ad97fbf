"""Fixtures: a trained model on real data, registered through a run, and principals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from loopml.registry import ModelVersion
from loopml.samples import bikeshare_features, load_bikeshare
from loopml.sdk import Client


@dataclass
class BikeData:
    train: pd.DataFrame
    later: pd.DataFrame


@pytest.fixture(scope="session")
def bikes() -> BikeData:
    frame = load_bikeshare()
    features = bikeshare_features(frame)
    table = features.assign(
        bikers=frame["bikers"].astype(float).to_numpy(), workingday=frame["workingday"].to_numpy()
    )
    months = frame["timestamp"].dt.month
    return BikeData(
        train=table[months <= 3].reset_index(drop=True),
        later=table[(months >= 6) & (months <= 8)].reset_index(drop=True),
    )


def train_version(
    client: Client,
    bikes: BikeData,
    name: str = "bikes",
    alpha: float = 1.0,
    columns: list[str] | None = None,
) -> ModelVersion:
    train = bikes.train
    x = train.drop(columns=["bikers"])
    if columns is not None:
        x = x[columns]
    dataset = client.log_dataset("bikes-train", train)
    with client.start_run(
        "bikes", f"ridge-{alpha}", inputs=[dataset], params={"alpha": alpha}
    ) as run:
        model = Ridge(alpha=alpha).fit(x, train["bikers"])
        run.log_metric("train_r2", float(model.score(x, train["bikers"])))
        version = run.log_model(model, name=name, input_example=x)
    assert isinstance(version, ModelVersion)
    return version


@pytest.fixture
def trained(client: Client, bikes: BikeData) -> Callable[..., ModelVersion]:
    def make(**kwargs: object) -> ModelVersion:
        return train_version(client, bikes, **kwargs)  # type: ignore[arg-type]

    return make
