"""A deployed regression model trained on winter bike data, and a prediction-log replayer.

`client` and `any_client` act on a workspace whose traffic policy is open: monitoring tests are
about what a deployment serves, not about which versions the policy admits
(tests/deployments/test_policy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from loopml.data import DatasetVersion
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.registry import ModelVersion
from loopml.samples import TARGET, bikeshare_features, load_bikeshare, split_by_months
from loopml.sdk import Client
from tests.deployments.conftest import any_client, client

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a whole hour


@dataclass(frozen=True)
class Deployed:
    client: Client
    name: str
    version: ModelVersion
    training: DatasetVersion
    model: HistGradientBoostingRegressor

    def replay(
        self,
        frame: pd.DataFrame,
        *,
        start: float = T0,
        step: float = 1.0,
        rows_per_request: int = 1,
        labels: bool = True,
        log: PredictionLog | None = None,
    ) -> PredictionLog:
        """Log the model's answers for `frame` as requests `step` seconds apart (+ feedback)."""
        features = bikeshare_features(frame)
        predicted = self.model.predict(features)
        owned = log is None
        log = log or PredictionLog(self.client.stores)
        for i, begin in enumerate(range(0, len(frame), rows_per_request)):
            rows = slice(begin, begin + rows_per_request)
            request_id = f"req-{start:.0f}-{i}"
            log.record(
                PredictionRecord(
                    deployment=self.name,
                    request_id=request_id,
                    model=self.version.uri,
                    inputs=features.iloc[rows].to_dict(orient="records"),
                    outputs=[float(v) for v in predicted[rows]],
                    probabilities=None,
                    latency_ms=1.0 + (i % 10),
                    at=start + i * step,
                )
            )
            if labels:
                truth = [float(v) for v in frame[TARGET].to_numpy()[rows]]
                log.record_feedback(self.name, request_id, truth, at=start + i * step + 0.5)
        log.flush()
        if owned:
            log.close()
        return log


@pytest.fixture(scope="session")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


@pytest.fixture
def deployed(client: Client, bikes: pd.DataFrame) -> Deployed:
    """`bikes-api` serving a boosted-trees model trained on Jan-Feb; lineage has its data."""
    return deploy_bikes(client, bikes)


def deploy_bikes(
    client: Client,
    bikes: pd.DataFrame,
    approve: Callable[[ModelVersion], object] | None = None,
) -> Deployed:
    """Train on Jan-Feb, log the training data as the run's input, deploy as `bikes-api`;
    `approve(version)`, when given, runs between registering and deploying (e.g. to make
    the version champion, as the default traffic policy asks)."""
    winter = split_by_months(bikes, [1, 2])
    training = client.log_dataset(
        "bikes-train", bikeshare_features(winter).assign(**{TARGET: winter[TARGET].to_numpy()})
    )
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(
        bikeshare_features(winter), winter[TARGET]
    )
    with client.start_run("bikes", capture_code=False, inputs=[training]) as run:
        version = run.log_model(model, name="bikes", input_example=bikeshare_features(winter)[:5])
    if approve is not None:
        approve(version)
    client.deployments.create("bikes-api", version.uri)
    return Deployed(client, "bikes-api", version, training, model)


__all__ = ["any_client", "client"]
