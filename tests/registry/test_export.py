"""`export_version`: registered tree ensembles on the bike hours, exported to ONNX.

ONNX computes in float32, so exact agreement is impossible: near a prediction of 500
bikes a float32 step is 3e-5. Parity is therefore checked relative to the largest
prediction (`max_rel_diff`), against the default tolerance of 1e-4; these models reach
about 1e-7, and the absolute differences stay around 1e-4 bikes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pytest
from sklearn.base import RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge

from loopml.errors import ValidationError
from loopml.registry import ModelVersion
from loopml.registry.export import DEFAULT_TOLERANCE, export_version, register_onnx
from loopml.sdk import Client
from tests.registry.conftest import BikeData

Register = Callable[..., ModelVersion]


@pytest.fixture
def register(client: Client, bikes: BikeData) -> Register:
    """Fit `model` on the numeric winter features and register it as `bikes`."""

    def make(model: RegressorMixin, flavor: str | None = None) -> ModelVersion:
        x = bikes.train.drop(columns=["bikers"])
        with client.start_run("bikes", capture_code=False) as run:
            model.fit(x, bikes.train["bikers"])
            version = run.log_model(model, name="bikes", input_example=x, flavor=flavor)
        assert isinstance(version, ModelVersion)
        return version

    return make


def _summer(bikes: BikeData, rows: int = 200) -> pd.DataFrame:
    return bikes.later.drop(columns=["bikers"]).head(rows)


MODELS = {
    "gbm": lambda: GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0),
    "forest": lambda: RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_tree_ensemble_exports_with_parity(
    client: Client, bikes: BikeData, register: Register, tmp_path: Path, kind: str
) -> None:
    version = register(MODELS[kind]())
    result = export_version(client.models.registry, version.uri, tmp_path, sample=_summer(bikes))

    assert result.path == tmp_path / "bikes-1.onnx" and result.path.is_file()
    assert result.rows_checked == 200 and result.source == "model:bikes/1"
    assert result.max_rel_diff < DEFAULT_TOLERANCE
    assert result.max_abs_diff < 1e-3  # bikes, on predictions in the hundreds
    assert result.onnx_opset > 0
    session = onnxruntime.InferenceSession(result.path.read_bytes())
    assert session.get_inputs()[0].shape[1] == 13


def test_the_registered_onnx_version_loads_and_predicts_like_the_original(
    client: Client, bikes: BikeData, register: Register, tmp_path: Path
) -> None:
    original = register(MODELS["gbm"]())
    result = export_version(client.models.registry, original.uri, tmp_path, sample=_summer(bikes))
    with client.start_run("model-export", capture_code=False) as run:
        onnx_version = register_onnx(run, result, "bikes-onnx")

    assert (onnx_version.uri, onnx_version.flavor) == ("model:bikes-onnx/1", "onnx")
    assert onnx_version.signature == original.signature
    assert onnx_version.metrics["onnx_max_rel_diff"] == pytest.approx(result.max_rel_diff)
    assert client.get_run(run.id).tags["source_model"] == "model:bikes/1"
    summer = bikes.later.drop(columns=["bikers"])
    expected = client.models.load(original.uri).predict(summer)
    got = client.models.load(onnx_version.uri).predict(summer)
    scale = max(1.0, float(np.abs(expected).max()))
    assert float(np.abs(got - expected).max()) / scale < DEFAULT_TOLERANCE


def test_without_a_sample_the_input_example_is_used(
    client: Client, register: Register, tmp_path: Path
) -> None:
    register(Ridge())
    result = export_version(client.models.registry, "bikes", tmp_path / "ridge.onnx")
    assert result.path == tmp_path / "ridge.onnx" and result.rows_checked == 5


def test_a_python_flavor_version_is_refused(
    client: Client, register: Register, tmp_path: Path
) -> None:
    register(Ridge(), flavor="python")
    with pytest.raises(ValidationError, match="python-flavor model; only scikit-learn"):
        export_version(client.models.registry, "bikes/1", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_a_difference_above_the_tolerance_fails_and_writes_nothing(
    client: Client, bikes: BikeData, register: Register, tmp_path: Path
) -> None:
    register(MODELS["gbm"]())
    with pytest.raises(ValidationError, match=r"differs from it by up to .* above the tolerance"):
        export_version(
            client.models.registry, "bikes/1", tmp_path, sample=_summer(bikes), tolerance=1e-12
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ws"]  # no file, no leftover


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "pmml"}, "format 'pmml' is not supported"),
        ({"tolerance": -1.0}, "tolerance must be a positive number"),
    ],
)
def test_bad_options_are_refused(
    client: Client, register: Register, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    register(Ridge())
    with pytest.raises(ValidationError, match=message):
        export_version(client.models.registry, "bikes/1", tmp_path, **kwargs)  # type: ignore[arg-type]


def test_a_sample_without_the_model_columns_is_refused(
    client: Client, bikes: BikeData, register: Register, tmp_path: Path
) -> None:
    register(Ridge())
    sample = bikes.later.drop(columns=["bikers", "temp"])
    with pytest.raises(ValidationError, match="lacks the model's column"):
        export_version(client.models.registry, "bikes/1", tmp_path, sample=sample)
