"""The `datasets` namespace: version tables, read them back, compare and download them."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path
from typing import Protocol

import pandas as pd

from loopml.data import DatasetDiff, DatasetService, DatasetVersion, diff_versions
from loopml.data.versions import TableLike
from loopml.errors import ValidationError
from loopml.store.paging import Page

DatasetRef = str | DatasetVersion


class Datasets(Protocol):
    """Dataset versions, the same in local and remote mode.

    A version is immutable and named by the hash of its bytes: logging the same content
    again returns the version that holds it."""

    def log(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        """Version a DataFrame, Arrow table, Parquet/CSV file or folder under `name`."""
        ...

    def get(self, ref: DatasetRef) -> DatasetVersion:
        """A version by reference: `bikes`, `bikes@3`, `dataset:bikes@latest` or its id."""
        ...

    def list(
        self, name: str | None = None, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """Versions by name and number, a page at a time (`next_page_token`)."""
        ...

    def load(self, ref: DatasetRef, columns: builtins.list[str] | None = None) -> pd.DataFrame:
        """A version as a DataFrame (optionally only `columns`)."""
        ...

    def diff(self, old: DatasetRef, new: DatasetRef) -> DatasetDiff:
        """What changed from `old` to `new`: rows, schema, per-column statistics."""
        ...

    def download(self, ref: DatasetRef, destination: str | Path) -> builtins.list[Path]:
        """Write the version's files (verified against their hashes) into folder
        `destination`; returns their paths."""
        ...


def target_folder(destination: str | Path) -> Path:
    """The folder a download writes into, created if missing; a file there is refused."""
    folder = Path(destination).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"{folder} is a file; give a folder to download into")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_target(folder: Path, name: str) -> Path:
    """Where file `name` of a version goes under `folder` (never outside it)."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ValidationError(f"file name {name!r} would be written outside {folder}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class LocalDatasets:
    """`Datasets` over the workspace's `DatasetService`."""

    def __init__(self, service: DatasetService) -> None:
        self._service = service

    def log(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        return self._service.log(
            name, data, time_column=time_column, parent=parent, description=description
        )

    def get(self, ref: DatasetRef) -> DatasetVersion:
        return self._service.get(ref)

    def list(
        self, name: str | None = None, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        return self._service.list(name, max_results=max_results, page_token=page_token)

    def load(self, ref: DatasetRef, columns: builtins.list[str] | None = None) -> pd.DataFrame:
        return self._service.load(ref, columns)

    def diff(self, old: DatasetRef, new: DatasetRef) -> DatasetDiff:
        return diff_versions(self._service.get(old), self._service.get(new))

    def download(self, ref: DatasetRef, destination: str | Path) -> builtins.list[Path]:
        version = self._service.get(ref)
        folder = target_folder(destination)
        written = []
        for item, source in zip(version.files, self._service.local_files(version), strict=True):
            path = file_target(folder, str(item["path"]))
            shutil.copyfile(source, path)
            written.append(path)
        return written
