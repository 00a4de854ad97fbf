"""The `datasets` namespace over `loopml server`: uploads and downloads are streamed, so a
file of any size uses flat memory, and checked against their BLAKE3 digests on both sides.

An upload announces the digest of the file, which the server checks before it versions
anything; a cut upload is sent again (the same bytes never make a second version). Each file
of a version downloads with its digest checked, resuming after a cut, and from the bucket
when the server offers presigned URLs.
"""

from __future__ import annotations

import builtins
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.artifacts.hashing import hash_file
from loopml.data import DatasetDiff, DatasetVersion
from loopml.data.versions import FORMATS, TableLike, read_version
from loopml.errors import ValidationError
from loopml.sdk.api.datasets import DatasetRef, file_target, target_folder
from loopml.sdk.remote.artifacts import DIGEST_HEADER, download, file_chunks
from loopml.sdk.remote.direct import DirectTransfers
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.models import dataset_version
from loopml.sdk.remote.records import dataset_diff, page_of
from loopml.store.paging import Page


def _ref(ref: DatasetRef) -> str:
    """What the server resolves: a version's id, or the reference as typed."""
    if isinstance(ref, DatasetVersion):
        return ref.id
    if isinstance(ref, str) and ref.strip():
        return quote(ref.strip(), safe="")
    raise ValidationError(
        f"a dataset reference is a name, NAME@VERSION or a DatasetVersion, got {ref!r}"
    )


class RemoteDatasets:
    """`Datasets` (loopml.sdk.api.datasets) in remote mode."""

    def __init__(self, http: RemoteHttp, direct: DirectTransfers | None = None) -> None:
        self._http = http
        self._direct = direct

    def log(
        self,
        name: str,
        data: TableLike,
        *,
        time_column: str | None = None,
        parent: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        with tempfile.TemporaryDirectory(prefix="loopml-up-") as tmp:
            source = _one_file(data, Path(tmp))
            if not source.name.lower().endswith(tuple(FORMATS)):
                raise ValidationError(
                    f"cannot upload {source.name}: its name must end in one of "
                    f"{', '.join(sorted(FORMATS))}, which says how it is read"
                )
            params: dict[str, Any] = {"filename": source.name}
            for key, value in (
                ("time_column", time_column),
                ("parent", parent),
                ("description", description),
            ):
                if value is not None:
                    params[key] = value
            found = self._http.call(
                "POST",
                f"/datasets/{quote(name, safe='')}/versions",
                params=params,
                content=lambda: file_chunks(source),
                headers={
                    DIGEST_HEADER: hash_file(source),
                    "content-type": "application/octet-stream",
                },
                idempotent=True,  # the same bytes again return the same version
                timeout_s=self._http.file_timeout(source.stat().st_size),
            )
        return dataset_version(found)

    def get(self, ref: DatasetRef) -> DatasetVersion:
        return dataset_version(self._http.call("GET", f"/datasets/{_ref(ref)}"))

    def list(
        self, name: str | None = None, *, max_results: int = 1000, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        params: dict[str, Any] = {"max_results": max_results}
        if name is not None:
            params["name"] = name
        if page_token is not None:
            params["page_token"] = page_token
        found = self._http.call("GET", "/datasets", params=params)
        return page_of([dataset_version(item) for item in found["datasets"]], found)

    def load(self, ref: DatasetRef, columns: builtins.list[str] | None = None) -> pd.DataFrame:
        version = self.get(ref)
        with tempfile.TemporaryDirectory(prefix="loopml-ds-") as tmp:
            paths = self.download(version, tmp)
            frame: pd.DataFrame = read_version(version, paths, columns).to_pandas()
        return frame

    def diff(self, old: DatasetRef, new: DatasetRef) -> DatasetDiff:
        return dataset_diff(self._http.call("GET", f"/datasets/{_ref(old)}/diff/{_ref(new)}"))

    def download(self, ref: DatasetRef, destination: str | Path) -> builtins.list[Path]:
        version = ref if isinstance(ref, DatasetVersion) else self.get(ref)
        folder = target_folder(destination)
        written = []
        for item in version.files:
            name = str(item["path"])
            where = quote(name, safe="/")
            written.append(
                download(
                    self._http,
                    f"/datasets/{version.id}/files/{where}",
                    file_target(folder, name),
                    self._direct,
                    f"/datasets/{version.id}/file-links/{where}",
                )
            )
        return written


def _one_file(data: TableLike, tmp: Path) -> Path:
    """The single CSV, TSV or Parquet file the server versions (a table is written as
    Parquet, as the local mode does)."""
    if isinstance(data, pd.DataFrame):
        if not all(isinstance(c, str) for c in data.columns):
            raise ValidationError("DataFrame column names must all be strings")
        try:
            data = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, ValueError) as exc:
            raise ValidationError(f"cannot convert the DataFrame to a table ({exc})") from exc
    if isinstance(data, pa.Table):
        target = tmp / "data.parquet"
        pq.write_table(data, target, compression="zstd")
        return target
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if path.is_dir():
            raise ValidationError(
                f"{path} is a folder; through a server, a dataset version is one CSV, TSV or "
                "Parquet file: combine the files, or log the folder in a workspace "
                "(unset LOOPML_SERVER_URL or pass --workspace)"
            )
        if not path.is_file():
            raise ValidationError(f"cannot log {path}: no such file")
        return path
    raise ValidationError(
        f"cannot log a {type(data).__name__}: pass a pandas DataFrame, a pyarrow Table, "
        "or the path of a Parquet/CSV file"
    )
