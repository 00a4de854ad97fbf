"""BlobBackend conformance: every backend keeps the interface's contract."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from loopml.artifacts import BlobBackend
from loopml.artifacts.local import LocalBlobBackend
from loopml.artifacts.s3 import S3BlobBackend

if TYPE_CHECKING:
    from .conftest import StoreSpec

KEY = "ab" + "0" * 62


@pytest.fixture
def backend(store_spec: StoreSpec) -> BlobBackend:
    if store_spec.is_s3:
        return S3BlobBackend(store_spec.url, endpoint_url=store_spec.endpoint_url)
    return LocalBlobBackend(Path(store_spec.url))


def stage(backend: BlobBackend, data: bytes) -> Path:
    staged = backend.staging_path()
    staged.write_bytes(data)
    return staged


def test_publish_makes_the_blob_readable(backend: BlobBackend) -> None:
    assert not backend.exists(KEY)
    staged = stage(backend, b"payload")

    backend.publish(staged, KEY, fsync=False)

    assert backend.exists(KEY)
    assert backend.size(KEY) == 7
    with backend.open_read(KEY) as handle:
        assert handle.read() == b"payload"
    assert not staged.exists()  # the staging file is consumed


def test_publishing_an_existing_key_keeps_the_existing_blob(backend: BlobBackend) -> None:
    backend.publish(stage(backend, b"first"), KEY, fsync=False)
    second = stage(backend, b"second")

    backend.publish(second, KEY, fsync=True)

    with backend.open_read(KEY) as handle:
        assert handle.read() == b"first"
    assert not second.exists()


def test_staging_paths_are_fresh(backend: BlobBackend) -> None:
    paths = {backend.staging_path() for _ in range(100)}

    assert len(paths) == 100
    assert not any(p.exists() for p in paths)


def test_local_path_matches_the_declared_capability(backend: BlobBackend) -> None:
    backend.publish(stage(backend, b"payload"), KEY, fsync=False)

    path = backend.local_path(KEY)

    if backend.capabilities.local_paths:
        assert path is not None
        assert path.read_bytes() == b"payload"
    else:
        assert path is None
    assert backend.capabilities.atomic_publish


def test_remove(backend: BlobBackend) -> None:
    backend.publish(stage(backend, b"payload"), KEY, fsync=False)

    backend.remove(KEY)

    assert not backend.exists(KEY)


def test_missing_key(backend: BlobBackend) -> None:
    assert not backend.exists(KEY)
    with pytest.raises(FileNotFoundError):
        backend.open_read(KEY).close()
    with pytest.raises(FileNotFoundError):
        backend.size(KEY)
