"""Seal an MLflow model folder that the client uploaded into a run's artifacts, so that the
registry can register it as a loopml model version (registry/packaging/mlflow_format.py).

The folder's files are already stored by content hash; sealing reads only `MLmodel`,
`requirements.txt` and the input example, and writes `loopml-model.json` beside them. A
folder is sealed once: the registry records the manifest's digest, so rewriting it would
orphan the versions already registered from it.
"""

from __future__ import annotations

from loopml.errors import NotFoundError
from loopml.registry.packaging import MANIFEST_NAME, FileEntry
from loopml.registry.packaging.mlflow_format import (
    MLMODEL,
    example_file,
    manifest_for_mlflow_model,
)
from loopml.sdk import Client
from loopml.version import __version__

REQUIREMENTS = "requirements.txt"


def seal(client: Client, run_id: str, folder: str) -> str:
    """Write `<folder>/loopml-model.json` for the MLflow model in the run's `folder` (unless
    it is there already); returns the folder. NotFoundError when it holds no `MLmodel`."""
    tracking = client.tracking
    prefix = folder.strip("/") + "/"
    listed = [a for a in tracking.list_artifacts(run_id) if str(a["path"]).startswith(prefix)]
    names = {str(a["path"])[len(prefix) :]: a for a in listed}
    if MANIFEST_NAME in names:
        return prefix.rstrip("/")
    if MLMODEL not in names:
        raise NotFoundError(
            f"run {run_id} has no MLflow model at {prefix.rstrip('/')!r} (no MLmodel file); "
            "log it with mlflow.<flavor>.log_model"
        )
    files = {
        name: FileEntry(str(item["digest"]), int(item["size"])) for name, item in names.items()
    }
    blobs = client.stores.artifacts

    def read(name: str | None) -> bytes | None:
        if name is None or name not in files:
            return None
        return blobs.read_bytes(files[name].blake3)

    mlmodel = blobs.read_bytes(files[MLMODEL].blake3)
    manifest = manifest_for_mlflow_model(
        files,
        mlmodel,
        requirements=read(REQUIREMENTS),
        input_example=read(example_file(mlmodel)),
        loopml_version=__version__,
    )
    tracking.log_artifact_bytes(
        run_id, manifest.to_json(), prefix + MANIFEST_NAME, "application/json"
    )
    return prefix.rstrip("/")
