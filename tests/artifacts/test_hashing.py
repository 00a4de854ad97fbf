"""The content hash: BLAKE3, identical whether bytes come from memory or a file."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from blake3 import blake3

from loopml.artifacts import HASH_NAME, hash_bytes, hash_file, new_hasher
from loopml.artifacts.hashing import HASH_CHUNK_SIZE

SIZES = [0, 1, 1000, HASH_CHUNK_SIZE, HASH_CHUNK_SIZE + 1]


def test_the_hash_is_blake3() -> None:
    assert HASH_NAME == "blake3"
    assert hash_bytes(b"abc") == blake3(b"abc").hexdigest()
    assert len(hash_bytes(b"")) == 64


@pytest.mark.parametrize("size", SIZES)
def test_hash_file_equals_hash_bytes(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)

    assert hash_file(path) == hash_bytes(data) == blake3(data).hexdigest()


def test_incremental_hasher_matches() -> None:
    hasher = new_hasher()
    for part in (b"loop", b"ml", b"", b"!"):
        hasher.update(part)

    assert hasher.hexdigest() == hash_bytes(b"loopml!")


def test_hash_file_reads_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big"
    with open(path, "wb") as handle:
        for _ in range(32):
            handle.write(os.urandom(1 << 20))

    tracemalloc.start()
    try:
        hash_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak <= HASH_CHUNK_SIZE + (1 << 20)


@pytest.mark.parametrize("path", ["/proc/self/mem", "/no/such/file"])
def test_unreadable_files_raise_oserror(path: str) -> None:
    with pytest.raises(OSError):
        hash_file(Path(path))
