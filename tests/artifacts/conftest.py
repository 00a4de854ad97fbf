"""The artifact store on every backend: a local folder and a real S3 server (moto)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

from loopml.artifacts import ArtifactStore, open_artifact_store


@dataclass(frozen=True)
class StoreSpec:
    """What `open_artifact_store` needs; a child process can rebuild the same store from it."""

    url: str
    cache_dir: Path
    endpoint_url: str | None
    filesystem: Any  # fsspec, to look at the blobs as another program would

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def blob_key(self, digest: str) -> str:
        """Where the documented layout puts a blob: `<url>/blobs/ab/cdef…` on S3, and
        `<folder>/blobs/ab/cd/ef…` (two folder levels) on a local disk."""
        if self.is_s3:
            return f"{self.url}/blobs/{digest[:2]}/{digest[2:]}"
        return f"{self.url}/blobs/{digest[:2]}/{digest[2:4]}/{digest[4:]}"


@pytest.fixture(scope="session")
def s3_filesystem(s3_server: str) -> Any:
    return fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )


@pytest.fixture(scope="session")
def s3_bucket(s3_filesystem: Any) -> str:
    """One bucket per test process; each test gets a prefix of its own in it."""
    bucket = "artifacts-" + uuid.uuid4().hex[:12]
    s3_filesystem.mkdir(bucket)
    return bucket


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    cache_dir = tmp_path / "cache"
    if request.param == "local":
        return StoreSpec(str(tmp_path / "artifacts"), cache_dir, None, fsspec.filesystem("file"))
    bucket = request.getfixturevalue("s3_bucket")
    return StoreSpec(
        f"s3://{bucket}/{uuid.uuid4().hex}",
        cache_dir,
        request.getfixturevalue("s3_server"),
        request.getfixturevalue("s3_filesystem"),
    )


@pytest.fixture
def artifact_store(store_spec: StoreSpec) -> ArtifactStore:
    return open_artifact_store(
        store_spec.url, store_spec.cache_dir, endpoint_url=store_spec.endpoint_url
    )


@pytest.fixture
def stored_blobs(store_spec: StoreSpec) -> Callable[[], set[str]]:
    """Lists the digests of every blob visible in the store (read through fsspec)."""

    def list_blobs() -> set[str]:
        fs = store_spec.filesystem
        root = store_spec.url.removeprefix("s3://") + "/blobs"
        if not fs.exists(root):
            return set()
        return {"".join(key.split("/blobs/", 1)[1].split("/")) for key in fs.find(root)}

    return list_blobs


@pytest.fixture
def overwrite_blob(store_spec: StoreSpec) -> Callable[[str, bytes], None]:
    """Replaces a stored blob's bytes behind the store's back (disk fault, tampering)."""

    def overwrite(digest: str, data: bytes) -> None:
        key = store_spec.blob_key(digest)
        if store_spec.is_s3:
            store_spec.filesystem.pipe_file(key.removeprefix("s3://"), data)
            return
        path = Path(key)
        os.chmod(path, 0o644)  # blobs are stored read-only
        with open(path, "r+b") as handle:  # in place: same inode, like a disk fault
            handle.write(data)
            handle.truncate()

    return overwrite


@pytest.fixture
def staged_paths(artifact_store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every staging path the store asks its backend for during the test."""
    seen: list[Path] = []
    original = artifact_store.backend.staging_path

    def recording() -> Path:
        path = original()
        seen.append(path)
        return path

    monkeypatch.setattr(artifact_store.backend, "staging_path", recording)
    return seen
