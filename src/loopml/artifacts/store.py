"""Content-addressed blobs: an artifact's id is the BLAKE3 hash of its bytes.

Each blob is written once, published atomically, and checked against its hash when read,
so a corrupted or tampered blob raises `ArtifactCorruptedError` instead of returning wrong
bytes.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts.base import BlobBackend
from loopml.artifacts.copying import copy_in_kernel
from loopml.artifacts.hashing import CHUNK_SIZE, hash_file, new_hasher
from loopml.artifacts.local import LocalBlobBackend
from loopml.errors import ArtifactCorruptedError, NotFoundError, ValidationError

COPY_CHUNK = 8 * CHUNK_SIZE  # large enough for the hasher to use every core
DEDUPE_CHECK_BYTES = 64 * CHUNK_SIZE  # files this large are hashed before being copied


@dataclass(frozen=True)
class ArtifactRef:
    """A stored blob: its digest (the id) and size in bytes."""

    digest: str
    size: int


def _check_digest(digest: str) -> None:
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValidationError(f"{digest!r} is not an artifact id (64 lowercase hex characters)")


class ArtifactStore:
    """Blobs by content hash over any `BlobBackend`."""

    def __init__(self, backend: BlobBackend, cache_dir: Path, *, fsync: bool = False) -> None:
        self.backend = backend
        self.cache_dir = cache_dir
        self.fsync = fsync
        self._verified: dict[str, tuple[int, int, int, int]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ writing
    def put_file(self, source: Path) -> ArtifactRef:
        """Store a file's bytes (streamed: memory stays bounded for any size)."""
        source = Path(source)
        if not source.is_file():
            raise ValidationError(f"cannot store {source}: it is not a readable file")
        known = self._already_stored(source)
        if known is not None:
            return known
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115 (closed by the `with` below)
        except OSError as exc:
            raise ValidationError(f"cannot store {source}: {exc.strerror or exc}") from exc
        staged = self.backend.staging_path()
        hasher = new_hasher(parallel=True)
        size = 0
        try:
            if self._large(source):
                with src, open(staged, "wb", buffering=0) as dst:
                    copied = copy_in_kernel(src.fileno(), dst.fileno())
                if copied is not None:
                    # The id is the hash of the bytes that were stored, read back from the
                    # staged copy: a source changing meanwhile cannot mislabel the blob.
                    digest = hash_file(staged)
                    self.backend.publish(staged, digest, fsync=self.fsync)
                    return ArtifactRef(digest, copied)
                src = open(source, "rb", buffering=0)  # noqa: SIM115 (closed below)
            with src, open(staged, "wb", buffering=0) as dst:
                buffer = bytearray(COPY_CHUNK)
                view = memoryview(buffer)
                while n := _read_source(src, buffer, source):
                    hasher.update(view[:n])
                    dst.write(view[:n])
                    size += n
            digest = hasher.hexdigest()
            self.backend.publish(staged, digest, fsync=self.fsync)
        except BaseException:
            # Failures of the store itself (disk full, S3 down) propagate as they are: they
            # are not the caller's mistake, unlike an unreadable source.
            staged.unlink(missing_ok=True)
            raise
        return ArtifactRef(digest, size)

    @staticmethod
    def _large(source: Path) -> bool:
        try:
            return source.stat().st_size >= DEDUPE_CHECK_BYTES
        except OSError:
            return False

    def _already_stored(self, source: Path) -> ArtifactRef | None:
        """For a large file, a fast parallel hash first: storing it again copies nothing."""
        try:
            size = source.stat().st_size
            if size < DEDUPE_CHECK_BYTES:
                return None
            digest = hash_file(source)
        except OSError:
            return None  # the copying pass below reports the problem
        if self.backend.exists(digest) and self.backend.size(digest) == size:
            return ArtifactRef(digest, size)
        return None

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store `data` (kept in memory: use `put_file` for large blobs)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValidationError(f"can only store bytes, got {type(data).__name__}")
        staged = self.backend.staging_path()
        hasher = new_hasher()
        hasher.update(data)
        digest = hasher.hexdigest()
        if self.backend.exists(digest):
            return ArtifactRef(digest, len(data))
        try:
            staged.write_bytes(data)
            self.backend.publish(staged, digest, fsync=self.fsync)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return ArtifactRef(digest, len(data))

    # ------------------------------------------------------------------ reading
    def exists(self, digest: str) -> bool:
        _check_digest(digest)
        return self.backend.exists(digest)

    def read_bytes(self, digest: str) -> bytes:
        """The blob's bytes, verified against its hash before they are returned."""
        _check_digest(digest)
        self._require(digest)
        with self.backend.open_read(digest) as handle:
            data = handle.read()
        hasher = new_hasher()
        hasher.update(data)
        if hasher.hexdigest() != digest:
            raise self._corrupted(digest)
        return data

    def local_path(self, digest: str) -> Path:
        """A verified local file holding the blob (the blob itself, or a cached copy)."""
        _check_digest(digest)
        self._require(digest)
        path = self.backend.local_path(digest)
        if path is None:
            return self._cached_copy(digest)
        stat = path.stat()
        # ctime too: it moves on any write or chmod, and unlike mtime cannot be set back.
        fingerprint = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        with self._lock:
            if self._verified.get(digest) == fingerprint:
                return path
        if hash_file(path) != digest:
            raise self._corrupted(digest)
        with self._lock:
            self._verified[digest] = fingerprint
        return path

    def open(self, digest: str) -> BinaryIO:
        """Open a verified copy of the blob for reading."""
        return open(self.local_path(digest), "rb")

    def fetch(self, digest: str, destination: Path) -> Path:
        """Copy a verified blob to `destination` (written to a temp name, then renamed)."""
        source = self.local_path(digest)
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own per call: threads or processes fetching the same blob to the same
        # place never write into each other's partial file; the last rename wins, same bytes.
        partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)
        return destination

    def remove(self, digest: str) -> None:
        """Delete a blob. Content-addressed blobs are shared by whoever stored the same
        bytes: the caller makes sure no record refers to it any more."""
        _check_digest(digest)
        if self.backend.exists(digest):
            self.backend.remove(digest)
        (self.cache_dir / digest[:2] / digest[2:]).unlink(missing_ok=True)
        with self._lock:
            self._verified.pop(digest, None)

    # ------------------------------------------------------------------ helpers
    def _require(self, digest: str) -> None:
        if not self.backend.exists(digest):
            raise NotFoundError(f"artifact {digest} is not in the store at {self.backend.url}")

    def _corrupted(self, digest: str) -> ArtifactCorruptedError:
        return ArtifactCorruptedError(
            f"artifact {digest} in {self.backend.url} does not match its hash: the stored "
            "blob was corrupted or tampered with; restore it from a backup, or delete it from "
            "the store and log the original bytes again"
        )

    def _cached_copy(self, digest: str) -> Path:
        cached = self.cache_dir / digest[:2] / digest[2:]
        if cached.is_file():
            if hash_file(cached) == digest:
                return cached
            cached.unlink(missing_ok=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{uuid.uuid4().hex}.part")
        hasher = new_hasher()
        with self.backend.open_read(digest) as src, open(partial, "wb") as dst:
            while chunk := src.read(COPY_CHUNK):
                hasher.update(chunk)
                dst.write(chunk)
        if hasher.hexdigest() != digest:
            partial.unlink(missing_ok=True)
            raise self._corrupted(digest)
        os.replace(partial, cached)
        return cached


def _read_source(src: io.FileIO, buffer: bytearray, source: Path) -> int:
    try:
        return src.readinto(buffer)
    except OSError as exc:
        raise ValidationError(f"cannot store {source}: {exc.strerror or exc}") from exc


def open_artifact_store(
    url: str, cache_dir: Path, *, endpoint_url: str | None = None, fsync: bool = False
) -> ArtifactStore:
    """An artifact store for a local folder or an `s3://bucket/prefix` URL."""
    backend: BlobBackend
    if url.startswith("s3://"):
        # Imported here: fsspec is only needed by S3 stores, and the local store stays light.
        from loopml.artifacts.s3 import S3BlobBackend

        backend = S3BlobBackend(url, endpoint_url=endpoint_url)
    elif "://" in url and not url.startswith("file://"):
        raise ValidationError(
            f"unsupported artifact URL {url!r}: use a folder or s3://bucket/prefix"
        )
    else:
        backend = LocalBlobBackend(Path(url.removeprefix("file://")))
    return ArtifactStore(backend, cache_dir, fsync=fsync)
