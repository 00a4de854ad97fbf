"""`RemoteRun.log_model`'s sources: dataset versions read from the server (their profile,
and their files when a signature needs every level of a string column), and versions
registered through `POST /models/{name}/versions`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from loopml.data import DatasetVersion
from loopml.data.versions import read_version
from loopml.registry import ModelVersion
from loopml.sdk.model_logging import ModelSources
from loopml.sdk.remote.artifacts import download
from loopml.sdk.remote.http import RemoteHttp

_VERSION_FIELDS = frozenset(DatasetVersion.__dataclass_fields__)
_MODEL_FIELDS = frozenset(ModelVersion.__dataclass_fields__)


def dataset_version(data: dict[str, Any]) -> DatasetVersion:
    """A `DatasetVersion` as the server describes it."""
    return DatasetVersion(**{k: v for k, v in data.items() if k in _VERSION_FIELDS})


def model_version(data: dict[str, Any]) -> ModelVersion:
    """A `ModelVersion` as the server describes it."""
    return ModelVersion(**{k: v for k, v in data.items() if k in _MODEL_FIELDS})


def remote_sources(http: RemoteHttp) -> ModelSources:
    def dataset(ref: str) -> DatasetVersion:
        return dataset_version(http.call("GET", f"/datasets/{quote(ref, safe='')}"))

    def load(version: DatasetVersion, columns: list[str]) -> pd.DataFrame:
        with tempfile.TemporaryDirectory(prefix="loopml-ds-") as tmp:
            paths = [
                download(
                    http,
                    f"/datasets/{version.id}/files/{quote(str(item['path']), safe='/')}",
                    Path(tmp) / f"{index}",
                )
                for index, item in enumerate(version.files)
            ]
            frame: pd.DataFrame = read_version(version, paths, columns).to_pandas()
        return frame

    def register(
        name: str,
        run_id: str,
        artifact_path: str,
        description: str | None,
        card: dict[str, Any] | None,
    ) -> ModelVersion:
        body = {
            "run_id": run_id,
            "artifact_path": artifact_path,
            "description": description,
            "card": card,
        }
        found = http.call("POST", f"/models/{quote(name, safe='')}/versions", json=body)
        return model_version(found)

    return ModelSources(dataset=dataset, load=load, register=register)
