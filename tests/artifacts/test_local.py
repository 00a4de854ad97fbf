"""The local folder backend: read-only blobs published by an atomic rename."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from loopml.artifacts.local import LocalBlobBackend

KEY = "cd" + "1" * 62


def test_layout_and_read_only_blobs(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "store")
    staged = backend.staging_path()
    staged.write_bytes(b"data")

    backend.publish(staged, KEY, fsync=True)

    blob = tmp_path / "store" / "blobs" / "cd" / "11" / ("1" * 60)
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


def test_blobs_fan_out_over_two_levels_of_folders(tmp_path: Path) -> None:
    # Where 100,000 evenly spread digests land, without writing them: 65,536 folders of two
    # levels, so the widest holds a handful (one level put ~400 in each; at a million
    # blobs, ~15 against ~4,000).
    backend = LocalBlobBackend(tmp_path / "store")
    blobs = tmp_path / "store" / "blobs"
    per_folder: dict[Path, int] = {}
    for i in range(100_000):
        path = backend._new_path(blake3_like(i))
        per_folder[path.parent] = per_folder.get(path.parent, 0) + 1
    assert {p.parent.parent for p in per_folder} <= {blobs}
    assert len({p.parent for p in per_folder}) == 256
    assert len(per_folder) > 50_000
    assert max(per_folder.values()) < 16


def blake3_like(i: int) -> str:
    return hashlib.blake2b(i.to_bytes(8, "little"), digest_size=32).hexdigest()


def test_blobs_of_the_one_level_layout_are_still_read(tmp_path: Path) -> None:
    backend = LocalBlobBackend(tmp_path / "store")
    old = tmp_path / "store" / "blobs" / "cd" / ("1" * 62)
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")

    assert backend.exists(KEY) and backend.size(KEY) == 3
    assert backend.local_path(KEY) == old
    with backend.open_read(KEY) as handle:
        assert handle.read() == b"old"
    staged = backend.staging_path()
    staged.write_bytes(b"old")
    backend.publish(staged, KEY, fsync=False)  # already stored: not written twice
    assert not (tmp_path / "store" / "blobs" / "cd" / "11").exists()
    backend.remove(KEY)
    assert not backend.exists(KEY)
