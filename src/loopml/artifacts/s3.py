"""Blobs as objects in an S3-compatible bucket, through fsspec/s3fs."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any, BinaryIO, cast

import fsspec

from loopml.artifacts.base import BlobCapabilities
from loopml.errors import ConfigError


class S3BlobBackend:
    """`s3://bucket/prefix/blobs/ab/cdef…`. An S3 PUT is atomic, so publish is one upload."""

    capabilities = BlobCapabilities(local_paths=False, atomic_publish=True)

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        try:
            self.fs: Any = fsspec.filesystem(
                "s3",
                client_kwargs={"endpoint_url": endpoint_url} if endpoint_url else {},
                skip_instance_cache=True,
            )
        except ImportError as exc:
            raise ConfigError("S3 artifacts need s3fs: pip install 'loopml[s3]'") from exc
        self.url = url.rstrip("/")
        self._base = self.url.removeprefix("s3://")
        self._tmp = Path(tempfile.gettempdir()) / "loopml-staging"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _key(self, key: str) -> str:
        return f"{self._base}/blobs/{key[:2]}/{key[2:]}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._key(key)))

    def size(self, key: str) -> int:
        return int(self.fs.size(self._key(key)))

    def staging_path(self) -> Path:
        return self._tmp / f"{uuid.uuid4().hex}.part"

    def publish(self, staged: Path, key: str, *, fsync: bool) -> None:
        try:
            if not self.exists(key):
                self.fs.put_file(str(staged), self._key(key))
        finally:
            staged.unlink(missing_ok=True)

    def open_read(self, key: str) -> BinaryIO:
        return cast(BinaryIO, self.fs.open(self._key(key), "rb"))

    def local_path(self, key: str) -> Path | None:
        return None

    def remove(self, key: str) -> None:
        self.fs.rm_file(self._key(key))
