"""The contract every registered flavor obeys, checked the same way for each one.

A new flavor is done when it has a case here and passes: save and load through the
manifest, a tampered file refused, its signature, the serving and batch scoring paths,
and export exactly as its capabilities declare.
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
    reference: LogisticRegression  # what every case's predictions must agree with


@pytest.fixture(scope="module")
def data() -> Data:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]  # a few columns keep the ONNX graph and the scoring small
    return Data(frame=X, reference=LogisticRegression(max_iter=5000).fit(X, y))


def _onnx(data: Data) -> object:
    pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'loopml[onnx]'")
    pytest.importorskip("skl2onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
    return export_onnx(data.reference, data.frame)


# One way to build a model of each flavor from the shared reference classifier.
CASES: dict[str, Callable[[Data], object]] = {
    "sklearn": lambda data: data.reference,
    "python": lambda data: WrappedClassifier(data.reference),
    "onnx": _onnx,
}
TOLERANCE = 1e-4  # ONNX computes in float32


def _check(got: Any, data: Data, x: pd.DataFrame) -> None:
    np.testing.assert_array_equal(np.asarray(got), data.reference.predict(x))


def test_every_registered_flavor_has_a_case() -> None:
    assert set(CASES) == set(FLAVORS)


@pytest.fixture(params=sorted(FLAVORS))
def flavor(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def model(flavor: str, data: Data) -> object:
    return CASES[flavor](data)


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


def test_save_then_load_answers_like_the_model(flavor: str, saved: Path, data: Data) -> None:
    manifest = read_manifest(saved)
    assert manifest.flavor == flavor
    loaded = load_model(saved, manifest_digest=hash_file(saved / MANIFEST_NAME))
    assert loaded.flavor == flavor and loaded.capabilities == capabilities_of(flavor)
    x = data.frame.head(ROWS)
    _check(loaded.predict(x), data, x)
    assert loaded.has_proba
    np.testing.assert_allclose(
        loaded.predict_proba(x), data.reference.predict_proba(x), atol=TOLERANCE
    )


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
    client: Client, flavor: str, model: object, data: Data
) -> None:
    version = _register(client, flavor, model, data)
    runner = ModelRunner(version.uri, client.models.load(version.uri))
    # Only a flavor that declares it is fed bare arrays.
    assert not runner.uses_array or capabilities_of(flavor).accepts_arrays
    x = data.frame.head(ROWS)
    scores = runner.score(x.to_numpy().tolist())
    _check(scores.predictions, data, x)
    assert scores.probabilities is not None
    np.testing.assert_allclose(
        scores.probabilities, data.reference.predict_proba(x), atol=TOLERANCE
    )


def test_batch_scoring_answers_like_the_model(saved: Path, data: Data) -> None:
    x = data.frame.head(ROWS)
    chunk = Chunk(number=1, first_row=0, table=pa.Table.from_pandas(x, preserve_index=False))
    table = ChunkScorer(load_model(saved)).score(chunk)
    _check(table.column(PREDICTION).to_numpy(), data, x)
    assert table.num_columns == x.shape[1] + 1 + 2  # prediction + one proba per class


def test_export_follows_the_capability(
    client: Client, flavor: str, model: object, data: Data, tmp_path: Path
) -> None:
    version = _register(client, flavor, model, data)
    dest = tmp_path / "out.onnx"
    if capabilities_of(flavor).exportable_to_onnx:
        pytest.importorskip("skl2onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
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
