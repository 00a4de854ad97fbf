"""Models for deployment tests: a real Ridge on the bike hours, and one that cannot predict.

`BrokenModel` lives in a module (not a test function) so a loaded model can unpickle it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd
from sklearn.linear_model import Ridge

from loopml.governance.traffic_policy import OPEN
from loopml.registry import ModelVersion
from loopml.registry.packaging import infer_signature
from loopml.samples import bikeshare_features, load_bikeshare
from loopml.sdk import Client


@dataclass(frozen=True)
class BikeHours:
    """Winter hours of the bundled Bike Sharing data: inputs and the `bikers` target."""

    x: pd.DataFrame
    y: pd.Series


@cache
def bike_hours() -> BikeHours:
    """Read once per process; treat the frames as read-only."""
    frame = load_bikeshare()
    months = frame["timestamp"].dt.month
    winter = (months <= 3).to_numpy()
    x = bikeshare_features(frame)[winter].reset_index(drop=True)
    y = frame["bikers"].astype(float)[winter].reset_index(drop=True)
    return BikeHours(x, y)


class BrokenModel:
    """A python-flavor model whose predict always fails (e.g. a bad feature pipeline)."""

    def predict(self, X: Any) -> Any:
        raise RuntimeError("feature 'temp_squared' is missing")


def register_ridge(client: Client, hours: BikeHours, name: str, alpha: float) -> ModelVersion:
    """Fit a Ridge on the winter hours in a run and register it as the next version."""
    with client.start_run("bikes", f"ridge-{alpha:g}", capture_code=False) as run:
        model = Ridge(alpha=alpha).fit(hours.x, hours.y)
        run.log_metric("train_r2", float(model.score(hours.x, hours.y)))
        version = run.log_model(model, name=name, input_example=hours.x, register=True)
    assert isinstance(version, ModelVersion)
    return version


def register_broken(client: Client, hours: BikeHours, name: str) -> ModelVersion:
    """Register a BrokenModel with the Ridge's signature and input example."""
    with client.start_run("bikes", "broken", capture_code=False) as run:
        version = run.log_model(
            BrokenModel(),
            name=name,
            input_example=hours.x,
            signature=infer_signature(hours.x),
            flavor="python",
            register=True,
        )
    assert isinstance(version, ModelVersion)
    return version


def open_traffic(client: Client) -> Client:
    """Let every version take any share on `client`'s workspace (an admin's audited choice):
    for tests about routing mechanics. The traffic policy itself is tested on the default
    in tests/deployments/test_policy.py."""
    client.deployments.policy.set(OPEN, reason="tests of routing mechanics, not of the policy")
    return client
