"""Dataset versions to and from a server, streamed: a file of any size uses flat memory.

An upload announces the BLAKE3 digest of the file, which the server checks before it
versions anything; a cut upload is sent again (the same bytes never make a second
version). Each file of a version downloads with its digest checked, resuming after a cut,
and from the bucket when the server offers presigned URLs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from loopml.artifacts.hashing import hash_file
from loopml.data import DatasetVersion
from loopml.data.versions import FORMATS, TableLike, materialize, read_version
from loopml.errors import ValidationError
from loopml.sdk.remote.artifacts import DIGEST_HEADER, download, file_chunks
from loopml.sdk.remote.direct import DirectTransfers
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.models import dataset_version


def upload_dataset(
    http: RemoteHttp,
    name: str,
    data: TableLike,
    *,
    time_column: str | None = None,
    parent: str | None = None,
    description: str | None = None,
) -> DatasetVersion:
    """Version `data` on the server: a CSV/TSV/Parquet file is streamed as it is, a table
    is written to a temporary Parquet file first."""
    with tempfile.TemporaryDirectory(prefix="loopml-ds-") as tmp:
        path = materialize(data, Path(tmp))
        if not path.is_file():
            raise ValidationError(
                f"cannot upload {path} to a server: give one CSV, TSV or Parquet file "
                "(a folder of parts can be logged in local mode)"
            )
        if not path.name.lower().endswith(tuple(FORMATS)):
            raise ValidationError(
                f"cannot upload {path.name}: its name must end in one of "
                f"{', '.join(sorted(FORMATS))}, which says how it is read"
            )
        digest = hash_file(path)
        params: dict[str, Any] = {"filename": path.name}
        for key, value in (
            ("time_column", time_column),
            ("parent", parent),
            ("description", description),
        ):
            if value is not None:
                params[key] = value
        found = http.call(
            "POST",
            f"/datasets/{quote(name, safe='')}/versions",
            params=params,
            content=lambda: file_chunks(path),
            headers={DIGEST_HEADER: digest, "content-type": "application/octet-stream"},
            idempotent=True,  # the same bytes again return the version already made
            timeout_s=http.file_timeout(path.stat().st_size),
        )
    return dataset_version(found)


def get_dataset(http: RemoteHttp, ref: str | DatasetVersion) -> DatasetVersion:
    if isinstance(ref, DatasetVersion):
        return ref
    return dataset_version(http.call("GET", f"/datasets/{quote(ref, safe='')}"))


def download_dataset(
    http: RemoteHttp,
    ref: str | DatasetVersion,
    destination: Path,
    direct: DirectTransfers | None = None,
) -> list[Path]:
    """Every file of the version under `destination`, at its path in the version."""
    version = get_dataset(http, ref)
    root = destination.resolve()
    paths = []
    for item in version.files:
        relative = str(item["path"])
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise ValidationError(f"{version.uri} names a file outside its folder: {relative}")
        where = quote(relative, safe="/")
        paths.append(
            download(
                http,
                f"/datasets/{version.id}/files/{where}",
                target,
                direct,
                f"/datasets/{version.id}/file-links/{where}",
            )
        )
    return paths


def load_dataset(
    http: RemoteHttp,
    ref: str | DatasetVersion,
    columns: list[str] | None,
    direct: DirectTransfers | None = None,
) -> pd.DataFrame:
    version = get_dataset(http, ref)
    with tempfile.TemporaryDirectory(prefix="loopml-ds-") as tmp:
        paths = download_dataset(http, version, Path(tmp), direct)
        frame: pd.DataFrame = read_version(version, paths, columns).to_pandas()
    return frame
