"""The contract every registered flavor obeys, checked the same way for each one.

A new flavor is done when it has a case here and passes: save and load through the
manifest, a tampered file refused, its signature, the serving and batch scoring paths,
and export exactly as its capabilities declare. A flavor with several kinds of model
(a native booster and its scikit-learn API) has a case for each; every case's answers
are checked against the original object's own `predict` and `predict_proba`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from loopml.artifacts.hashing import hash_file
from loopml.batch.predictions import PREDICTION, ChunkScorer
from loopml.batch.source import Chunk
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.registry import ModelVersion
from loopml.registry.export import export_version
from loopml.registry.packaging import (
    MANIFEST_NAME,
    export_onnx,
    infer_signature,
    load_model,
    read_manifest,
    save_model,
)
from loopml.registry.packaging.flavors import FLAVORS, capabilities_of, get_flavor
from loopml.sdk import Client
from loopml.serving.scoring import ModelRunner
from tests.registry.packaging.helpers import WrappedClassifier

ROWS = 60


@dataclass(frozen=True)
class Data:
    frame: pd.DataFrame
    target: pd.Series
    reference: LogisticRegression  # the model the sklearn, python and onnx cases wrap


@dataclass(frozen=True)
class Expected:
    """What a case's model answers on its own: the outputs every path must reproduce."""

    predict: Callable[[pd.DataFrame], Any]
    predict_proba: Callable[[pd.DataFrame], Any]


@pytest.fixture(scope="module")
def data() -> Data:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]  # a few columns keep the ONNX graph and the scoring small
    return Data(frame=X, target=y, reference=LogisticRegression(max_iter=5000).fit(X, y))


def _onnx(data: Data) -> tuple[object, Expected]:
    pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'loopml[onnx]'")
    pytest.importorskip("skl2onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
    return export_onnx(data.reference, data.frame), _of(data.reference)


def _of(model: Any) -> Expected:
    return Expected(model.predict, model.predict_proba)


def _xgb_booster(data: Data) -> tuple[object, Expected]:
    xgb = pytest.importorskip("xgboost", reason="needs the xgboost extra")
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3},
        xgb.DMatrix(data.frame, data.target),
        num_boost_round=20,
    )

    def proba(x: pd.DataFrame) -> Any:
        p = booster.predict(xgb.DMatrix(x))
        return np.column_stack([1 - p, p])

    return booster, Expected(lambda x: (booster.predict(xgb.DMatrix(x)) > 0.5).astype(int), proba)


def _xgb_sklearn(data: Data) -> tuple[object, Expected]:
    xgb = pytest.importorskip("xgboost", reason="needs the xgboost extra")
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(data.frame, data.target)
    return model, _of(model)


def _lgb_booster(data: Data) -> tuple[object, Expected]:
    lgb = pytest.importorskip("lightgbm", reason="needs the lightgbm extra")
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1},
        lgb.Dataset(data.frame, data.target),
        num_boost_round=20,
    )

    def proba(x: pd.DataFrame) -> Any:
        p = booster.predict(x)
        return np.column_stack([1 - p, p])

    return booster, Expected(lambda x: (booster.predict(x) > 0.5).astype(int), proba)


def _lgb_sklearn(data: Data) -> tuple[object, Expected]:
    lgb = pytest.importorskip("lightgbm", reason="needs the lightgbm extra")
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1)
    return model.fit(data.frame, data.target), _of(model)


# One way (or several) to build a model of each flavor, and what it answers on its own.
CASES: dict[str, tuple[str, Callable[[Data], tuple[object, Expected]]]] = {
    "sklearn": ("sklearn", lambda data: (data.reference, _of(data.reference))),
    "python": ("python", lambda data: (WrappedClassifier(data.reference), _of(data.reference))),
    "onnx": ("onnx", _onnx),
    "xgboost-booster": ("xgboost", _xgb_booster),
    "xgboost-sklearn": ("xgboost", _xgb_sklearn),
    "lightgbm-booster": ("lightgbm", _lgb_booster),
    "lightgbm-sklearn": ("lightgbm", _lgb_sklearn),
}
TOLERANCE = 1e-4  # ONNX computes in float32


def _check(got: Any, expected: Expected, x: pd.DataFrame) -> None:
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected.predict(x)))


def test_every_registered_flavor_has_a_case() -> None:
    assert {flavor for flavor, _ in CASES.values()} == set(FLAVORS)


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, data: Data) -> tuple[str, object, Expected]:
    flavor, build = CASES[request.param]
    model, expected = build(data)
    return flavor, model, expected


@pytest.fixture
def flavor(case: tuple[str, object, Expected]) -> str:
    return case[0]


@pytest.fixture
def model(case: tuple[str, object, Expected]) -> object:
    return case[1]


@pytest.fixture
def expected(case: tuple[str, object, Expected]) -> Expected:
    return case[2]


@pytest.fixture
def saved(flavor: str, model: object, data: Data, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    save_model(
        model,
        folder,
        flavor=flavor,
        signature=infer_signature(data.frame),
        input_example=data.frame.head(5),
    )
    return folder


def test_save_then_load_answers_like_the_model(
    flavor: str, saved: Path, data: Data, expected: Expected
) -> None:
    manifest = read_manifest(saved)
    assert manifest.flavor == flavor
    loaded = load_model(saved, manifest_digest=hash_file(saved / MANIFEST_NAME))
    assert loaded.flavor == flavor and loaded.capabilities == capabilities_of(flavor)
    x = data.frame.head(ROWS)
    _check(loaded.predict(x), expected, x)
    assert loaded.has_proba
    np.testing.assert_allclose(loaded.predict_proba(x), expected.predict_proba(x), atol=TOLERANCE)
    labels, proba = loaded.predict_both(x)
    _check(labels, expected, x)
    np.testing.assert_allclose(proba, expected.predict_proba(x), atol=TOLERANCE)


def test_the_flavor_recognises_its_own_models(flavor: str, model: object) -> None:
    assert get_flavor(flavor).matches(model)
    assert get_flavor(flavor).packages(model)  # something to pin in the requirements


def test_the_signature_is_the_training_columns(saved: Path, data: Data) -> None:
    loaded = load_model(saved)
    assert loaded.signature is not None
    assert loaded.signature.input_names == list(data.frame.columns)
    assert loaded.signature.validate(data.frame.head(3)) == []
    assert loaded.signature.validate(data.frame.head(3).drop(columns=data.frame.columns[0]))


def test_a_tampered_model_file_is_refused(saved: Path) -> None:
    name = read_manifest(saved).loader["file"]
    target = saved / name
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(ArtifactCorruptedError, match=f"{name} does not match its BLAKE3"):
        load_model(saved)


def test_a_replaced_manifest_is_refused(saved: Path) -> None:
    registered = hash_file(saved / MANIFEST_NAME)
    manifest = saved / MANIFEST_NAME
    manifest.write_text(manifest.read_text().replace('"created_at"', '"created_at" ', 1))
    with pytest.raises(ArtifactCorruptedError, match="not the manifest that was registered"):
        load_model(saved, manifest_digest=registered)


def _register(client: Client, flavor: str, model: object, data: Data) -> ModelVersion:
    with client.start_run("conformance", capture_code=False) as run:
        version = run.log_model(
            model, name=f"conf-{flavor}", flavor=flavor, input_example=data.frame.head(5)
        )
    assert isinstance(version, ModelVersion) and version.flavor == flavor
    return version


def test_the_serving_path_answers_like_the_model(
    client: Client, flavor: str, model: object, data: Data, expected: Expected
) -> None:
    version = _register(client, flavor, model, data)
    runner = ModelRunner(version.uri, client.models.load(version.uri))
    # Only a flavor that declares it is fed bare arrays.
    assert not runner.uses_array or capabilities_of(flavor).accepts_arrays
    x = data.frame.head(ROWS)
    scores = runner.score(x.to_numpy().tolist())
    _check(scores.predictions, expected, x)
    assert scores.probabilities is not None
    np.testing.assert_allclose(scores.probabilities, expected.predict_proba(x), atol=TOLERANCE)


def test_batch_scoring_answers_like_the_model(saved: Path, data: Data, expected: Expected) -> None:
    x = data.frame.head(ROWS)
    chunk = Chunk(number=1, first_row=0, table=pa.Table.from_pandas(x, preserve_index=False))
    table = ChunkScorer(load_model(saved)).score(chunk)
    _check(table.column(PREDICTION).to_numpy(), expected, x)
    assert table.num_columns == x.shape[1] + 1 + 2  # prediction + one proba per class


def test_export_follows_the_capability(
    client: Client, flavor: str, model: object, data: Data, tmp_path: Path
) -> None:
    version = _register(client, flavor, model, data)
    dest = tmp_path / "out.onnx"
    if capabilities_of(flavor).exportable_to_onnx:
        pytest.importorskip("skl2onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
        if flavor in ("xgboost", "lightgbm"):
            pytest.importorskip("onnxmltools", reason=f"needs the {flavor} extra")
        result = export_version(client.models.registry, version.uri, dest, sample=data.frame)
        assert result.path == dest and dest.stat().st_size > 0
        assert result.max_rel_diff <= result.tolerance
    else:
        with pytest.raises(ValidationError, match=f"{flavor}-flavor model"):
            export_version(client.models.registry, version.uri, dest, sample=data.frame)
        assert not dest.exists()


def test_an_unknown_flavor_has_no_capabilities() -> None:
    caps = capabilities_of("from-a-newer-release")
    assert not caps.accepts_arrays and not caps.exportable_to_onnx
