"""A saved folder is sealed: any change is refused before anything is unpickled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.artifacts.hashing import hash_bytes, hash_file
from loopml.errors import ArtifactCorruptedError, NotFoundError, ValidationError
from loopml.registry.packaging import MANIFEST_NAME, load_model, save_model
from tests.registry.packaging.helpers import UNPICKLED, RecordingModel


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    save_model(RecordingModel(), folder)
    return folder


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_an_intact_folder_loads_and_unpickles(saved: Path) -> None:
    before = len(UNPICKLED)
    assert load_model(saved).predict([[1.0, 2.0]]).tolist() == [3.5]
    assert len(UNPICKLED) == before + 1  # so the checks below would notice an unpickling


def test_a_flipped_byte_is_refused_without_unpickling(saved: Path) -> None:
    model_file = saved / "model.joblib"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    model_file.write_bytes(bytes(data))
    before = len(UNPICKLED)
    with pytest.raises(ArtifactCorruptedError, match="modified after it was saved") as caught:
        load_model(saved)
    assert "model.joblib does not match its BLAKE3 digest" in str(caught.value)
    assert len(UNPICKLED) == before


def test_a_truncated_file_is_caught_by_its_size(saved: Path) -> None:
    model_file = saved / "model.joblib"
    model_file.write_bytes(model_file.read_bytes()[:-3])
    with pytest.raises(ArtifactCorruptedError, match=r"model.joblib has \d+ bytes where"):
        load_model(saved)


def test_a_missing_file_is_refused(saved: Path) -> None:
    (saved / "model.joblib").unlink()
    with pytest.raises(ArtifactCorruptedError, match=r"model\.joblib is missing"):
        load_model(saved)


def test_an_added_file_is_refused(saved: Path) -> None:
    (saved / "sub").mkdir()
    (saved / "sub" / "patch.pkl").write_bytes(b"x")
    before = len(UNPICKLED)
    with pytest.raises(ArtifactCorruptedError, match=r"sub/patch.pkl was added"):
        load_model(saved)
    assert len(UNPICKLED) == before


def test_a_manifest_that_is_not_json_is_refused(saved: Path) -> None:
    (saved / MANIFEST_NAME).write_text('{"flavor": "python", ')
    with pytest.raises(ArtifactCorruptedError, match="is damaged: it is not valid JSON"):
        load_model(saved)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"files": None}, "a field is missing or malformed"),
        ({"surprise": 1}, "a field is missing or malformed"),
        ({"files": {"../../etc/passwd": {"blake3": "0", "size": 1}}}, "outside the folder"),
        ({"loader": {"file": "other.joblib", "format": "joblib"}}, "its loader names no file"),
        ({"signature": {"inputs": "age"}}, "the signature in .* is damaged"),
    ],
)
def test_a_malformed_manifest_is_refused(
    saved: Path, changes: dict[str, object], message: str
) -> None:
    _edit_manifest(saved, **changes)
    with pytest.raises(ArtifactCorruptedError, match=message):
        load_model(saved)


def test_a_manifest_from_a_newer_loopml_asks_for_an_upgrade(saved: Path) -> None:
    _edit_manifest(saved, format_version=99)
    with pytest.raises(ValidationError, match="upgrade loopml"):
        load_model(saved)


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no model folder"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(NotFoundError, match=f"holds no {MANIFEST_NAME}"):
        load_model(tmp_path)


def test_the_registered_manifest_digest_closes_the_seal(saved: Path) -> None:
    """Rewriting a file and its manifest entry together passes the folder check alone."""
    registered = hash_file(saved / MANIFEST_NAME)
    assert load_model(saved, manifest_digest=registered).flavor == "python"
    forged = b"not the model"
    (saved / "model.joblib").write_bytes(forged)
    _edit_manifest(saved, files={"model.joblib": {"blake3": hash_bytes(forged), "size": 13}})
    with pytest.raises(ArtifactCorruptedError, match="not the manifest that was registered"):
        load_model(saved, manifest_digest=registered)
