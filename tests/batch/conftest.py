"""Fixtures: the bike-sharing hours, and models trained on them and registered."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier

from loopml.registry import ModelVersion
from loopml.samples import bikeshare_features, load_bikeshare
from loopml.sdk import Client


@dataclass(frozen=True)
class Hours:
    """Model inputs (the 13 numeric features) and the `bikers` target, winter and summer."""

    train: pd.DataFrame
    target: pd.Series
    summer: pd.DataFrame


@pytest.fixture(scope="session")
def hours() -> Hours:
    frame = load_bikeshare()
    features = bikeshare_features(frame)
    months = frame["timestamp"].dt.month
    winter, summer = months <= 3, (months >= 6) & (months <= 8)
    return Hours(
        train=features[winter].reset_index(drop=True),
        target=frame.loc[winter, "bikers"].astype(float).reset_index(drop=True),
        summer=features[summer].reset_index(drop=True),
    )


@pytest.fixture
def ridge(client: Client, hours: Hours) -> ModelVersion:
    """A Ridge regression of the winter hours, registered as `bikes` v1."""
    with client.start_run("bikes", capture_code=False) as run:
        model = Ridge(alpha=1.0).fit(hours.train, hours.target)
        version = run.log_model(model, name="bikes", input_example=hours.train)
    assert isinstance(version, ModelVersion)
    return version


@pytest.fixture
def busy(client: Client, hours: Hours) -> ModelVersion:
    """A classifier of busy hours (more than 100 bikers), registered as `busy` v1."""
    with client.start_run("busy", capture_code=False) as run:
        model = DecisionTreeClassifier(max_depth=5, random_state=0)
        model.fit(hours.train, (hours.target > 100).astype(int))
        version = run.log_model(model, name="busy", input_example=hours.train)
    assert isinstance(version, ModelVersion)
    return version


def with_ids(features: pd.DataFrame) -> pd.DataFrame:
    """The features plus an id column the model does not take (it must pass through)."""
    return features.assign(hour_id=range(len(features)))
