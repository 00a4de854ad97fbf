"""The narrow interface every blob backend implements, and its declared capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class BlobCapabilities:
    """What a backend can do, declared up front rather than discovered by failure."""

    local_paths: bool  # blobs are plain files that can be opened by path (no copy needed)
    atomic_publish: bool  # a published blob appears whole or not at all


class BlobBackend(Protocol):
    """Stores immutable blobs under keys. Implementations: `local`, `s3`.

    Contract: `publish` makes a fully written staging file visible under `key` atomically;
    readers never see a partial blob. Publishing an existing key keeps the existing blob.
    """

    capabilities: BlobCapabilities
    url: str

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def staging_path(self) -> Path:
        """A fresh local file path to write a blob into before `publish`."""
        ...

    def publish(self, staged: Path, key: str, *, fsync: bool) -> None: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def local_path(self, key: str) -> Path | None: ...

    def remove(self, key: str) -> None: ...
