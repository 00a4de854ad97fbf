"""The local folder backend: read-only blobs published by an atomic rename."""

from __future__ import annotations

import stat
from pathlib import Path

from loopml.artifacts.local import LocalBlobBackend

KEY = "cd" + "1" * 62


def test_layout_and_read_only_blobs(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "store")
    staged = backend.staging_path()
    staged.write_bytes(b"data")

    backend.publish(staged, KEY, fsync=True)

    blob = tmp_path / "store" / "blobs" / "cd" / ("1" * 62)
    assert backend.local_path(KEY) == blob
    assert blob.read_bytes() == b"data"
    assert stat.S_IMODE(blob.stat().st_mode) == 0o444


def test_staging_lives_in_the_store_so_the_rename_is_atomic(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "store")

    staged = backend.staging_path()

    assert staged.parent == tmp_path / "store" / "tmp"
    assert staged.parent.stat().st_dev == (tmp_path / "store" / "blobs").stat().st_dev


def test_an_existing_blob_is_not_replaced(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "store")
    first = backend.staging_path()
    first.write_bytes(b"data")
    backend.publish(first, KEY, fsync=False)
    inode = backend._path(KEY).stat().st_ino
    second = backend.staging_path()
    second.write_bytes(b"data")

    backend.publish(second, KEY, fsync=False)

    assert backend._path(KEY).stat().st_ino == inode
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
