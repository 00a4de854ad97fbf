"""An MLflow scikit-learn folder sealed with a loopml manifest: signature, example and
requirements read from text only; the pickle loaded by the sklearn flavor only after every
file is verified; what loopml cannot serve refused with the reason."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from loopml.artifacts.hashing import hash_file
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.registry.packaging import MANIFEST_NAME, load_model
from loopml.registry.packaging.integrity import file_entries
from loopml.registry.packaging.manifest import write_manifest
from loopml.registry.packaging.mlflow_format import example_file, manifest_for_mlflow_model
from tests.server.mlflow.folders import classifier, sklearn_folder


def _seal(folder: Path) -> None:
    mlmodel = (folder / "MLmodel").read_bytes()
    example = example_file(mlmodel)
    manifest = manifest_for_mlflow_model(
        file_entries(folder),
        mlmodel,
        requirements=(folder / "requirements.txt").read_bytes(),
        input_example=(folder / example).read_bytes() if example else None,
    )
    write_manifest(folder, manifest)


def test_an_mlflow_folder_loads_as_a_sklearn_model(tmp_path: Path) -> None:
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "m", model, frame)
    _seal(folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_bytes())
    assert manifest["flavor"] == "sklearn"
    assert manifest["loader"] == {"file": "model.pkl", "format": "cloudpickle"}
    assert set(manifest["files"]) == {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "input_example.json",
    }
    assert manifest["requirements"] == ["mlflow==3.17.2", "cloudpickle==3.1.3", "scikit-learn"]
    assert manifest["input_example"] == frame.head(3).to_dict(orient="records")
    assert manifest["metadata"]["imported_from"] == "mlflow"
    assert manifest["created_at"] == "2026-12-06 13:18:48.123456"
    loaded = load_model(folder, manifest_digest=hash_file(folder / MANIFEST_NAME))
    assert loaded.signature is not None
    assert [(c.name, c.type) for c in loaded.signature.inputs] == [
        ("x", "float"),
        ("z", "float"),
    ]
    assert [c.type for c in loaded.signature.outputs] == ["integer"]
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    problems = loaded.signature.validate(frame.drop(columns=["z"]).head(2))
    assert [p.field for p in problems] == ["z"]  # serving checks the columns MLflow recorded


def test_a_pickle_changed_after_sealing_is_refused_before_loading(tmp_path: Path) -> None:
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "m", model, frame)
    _seal(folder)
    (folder / "model.pkl").write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    with pytest.raises(ArtifactCorruptedError, match=r"model\.pkl"):
        load_model(folder)


def test_what_loopml_cannot_serve_is_refused_with_the_reason(tmp_path: Path) -> None:
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "m", model, frame)
    files = file_entries(folder)
    spec = yaml.safe_load((folder / "MLmodel").read_text())

    def manifest_of(changed: dict[str, object]) -> None:
        manifest_for_mlflow_model(files, yaml.safe_dump({**spec, **changed}).encode())

    with pytest.raises(ValidationError, match="loopml imports scikit-learn models"):
        manifest_of({"flavors": {"python_function": {"loader_module": "mlflow.pytorch"}}})
    sklearn = spec["flavors"]["sklearn"]
    with pytest.raises(ValidationError, match="serialization_format 'joblib2'"):
        manifest_of({"flavors": {"sklearn": {**sklearn, "serialization_format": "joblib2"}}})
    with pytest.raises(ValidationError, match="was not uploaded"):
        manifest_of({"flavors": {"sklearn": {**sklearn, "pickled_model": "../../etc/passwd"}}})
    binary = json.dumps([{"type": "binary", "name": "img", "required": True}])
    with pytest.raises(ValidationError, match="MLflow type 'binary'"):
        manifest_of({"signature": {"inputs": binary}})
    with pytest.raises(ValidationError, match="not readable YAML"):
        manifest_for_mlflow_model(files, b"flavors: [unclosed")
    tensor = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}])
    unsigned = manifest_for_mlflow_model(
        files, yaml.safe_dump({**spec, "signature": {"inputs": tensor}}).encode()
    )
    assert unsigned.signature is None  # a tensor signature: served without column checks


def test_a_skops_file_without_skops_says_what_to_install(tmp_path: Path) -> None:
    if importlib.util.find_spec("skops") is not None:
        pytest.skip("skops is installed here; this checks the message loopml gives without it")
    model, frame = classifier()
    folder = sklearn_folder(tmp_path / "m", model, frame)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["serialization_format"] = "skops"
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    _seal(folder)
    with pytest.raises(
        ValidationError, match=r"install skops .*serialization_format='cloudpickle'"
    ):
        load_model(folder)
