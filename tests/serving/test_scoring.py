"""Which models get ndarrays, and that both input paths answer exactly like the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from loopml.registry import ModelVersion
from loopml.sdk import Client
from loopml.serving.scoring import ModelRunner
from tests.serving.conftest import Cancer, register_shops


def _log(client: Client, model: object, x: pd.DataFrame, name: str) -> ModelVersion:
    with client.start_run("scoring", capture_code=False) as run:
        version = run.log_model(model, name=name, input_example=x)
    assert isinstance(version, ModelVersion)
    return version


def test_array_and_frame_paths_match_the_model(
    client: Client, cancer: Cancer, cancer_v1: ModelVersion
) -> None:
    x = cancer.frame.iloc[:40]
    rows = x.to_numpy().tolist()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(cancer.frame, cancer.target)
    scaled = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0))
    scaled.fit(cancer.frame, cancer.target)
    cases = [
        (cancer_v1, True),  # fitted on an ndarray
        (_log(client, forest, x, "forest"), True),  # fitted on a frame: names stripped
        (_log(client, scaled, x, "scaled"), False),  # a pipeline: keeps its DataFrame
    ]
    for version, uses_array in cases:
        loaded = client.models.load(version.uri)
        runner = ModelRunner(version.uri, loaded)
        assert runner.uses_array is uses_array, version.uri
        scores = runner.score(rows)
        frame = x if loaded.raw.__dict__.get("feature_names_in_") is not None else x.to_numpy()
        assert scores.predictions == loaded.predict(frame).tolist()
        assert scores.probabilities is not None
        np.testing.assert_allclose(scores.probabilities, loaded.predict_proba(frame))
    assert "feature_names_in_" in client.models.load("model:forest/1").raw.__dict__


def test_category_pipelines_take_a_dataframe(client: Client) -> None:
    version = register_shops(client)
    runner = ModelRunner(version.uri, client.models.load(version.uri))
    assert runner.uses_array is False
    scores = runner.score([[25.0, "summer", 3], [10.0, "winter", 40]])
    assert len(scores.predictions) == 2
