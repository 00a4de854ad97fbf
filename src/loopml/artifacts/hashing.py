"""The content hash behind every artifact id: BLAKE3 (see docs/artifacts.md for why)."""

from __future__ import annotations

from pathlib import Path

from blake3 import blake3

HASH_NAME = "blake3"
CHUNK_SIZE = 1 << 20


def new_hasher() -> blake3:
    return blake3()


def hash_bytes(data: bytes) -> str:
    return blake3(data).hexdigest()


def hash_file(path: Path) -> str:
    """Hash a file of any size with bounded memory (memory-mapped, several threads)."""
    if path.stat().st_size == 0:
        return blake3(b"").hexdigest()
    return blake3(max_threads=blake3.AUTO).update_mmap(str(path)).hexdigest()
