"""Blobs as files in a local folder, published with an atomic rename.

Blobs fan out over two levels of folders named by the digest's first four hex digits
(`blobs/ab/cd/ef…`): 65,536 folders hold a million blobs at about 15 files each and a
billion at about 15,000, where one level (`blobs/ab/cdef…`, the layout of stores written
before) put 4,000 files in each folder at a million. Blobs in the one-level layout are
still found, read and removed where they are; new blobs go to two levels.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts.base import BlobCapabilities


class LocalBlobBackend:
    """`<root>/blobs/ab/cd/ef…`; staging files live in `<root>/tmp` on the same filesystem."""

    capabilities = BlobCapabilities(local_paths=True, atomic_publish=True)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)
        self._tmp = root / "tmp"
        self._blobs = root / "blobs"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._blobs.mkdir(parents=True, exist_ok=True)

    def _new_path(self, key: str) -> Path:
        return self._blobs / key[:2] / key[2:4] / key[4:]

    def _path(self, key: str) -> Path:
        """Where the blob is: the two-level path, or the one-level one of older stores."""
        path = self._new_path(key)
        if path.is_file():
            return path
        old = self._blobs / key[:2] / key[2:]
        return old if old.is_file() else path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def staging_path(self) -> Path:
        return self._tmp / f"{uuid.uuid4().hex}.part"

    def publish(self, staged: Path, key: str, *, fsync: bool) -> None:
        if self.exists(key):
            staged.unlink(missing_ok=True)
            return
        target = self._new_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if fsync:
            fd = os.open(staged, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(staged, 0o444)
        os.replace(staged, target)
        if fsync:
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
