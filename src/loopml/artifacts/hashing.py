"""The content hash behind every artifact id: BLAKE3 (see docs/artifacts.md for why)."""

from __future__ import annotations

from pathlib import Path

from blake3 import blake3

HASH_NAME = "blake3"
CHUNK_SIZE = 1 << 20
HASH_CHUNK_SIZE = 8 * CHUNK_SIZE  # large enough for BLAKE3 to use several threads


def new_hasher(*, parallel: bool = False) -> blake3:
    """A BLAKE3 hasher; `parallel` spreads large updates (MiBs) over every core."""
    return blake3(max_threads=blake3.AUTO) if parallel else blake3()


def hash_bytes(data: bytes) -> str:
    return blake3(data).hexdigest()


def hash_file(path: Path) -> str:
    """Hash a file of any size with bounded memory (read in chunks, several threads).

    Plain reads rather than a memory map: a mapped file counts in full towards the process's
    resident memory, which defeats memory limits on large datasets.
    """
    hasher = blake3(max_threads=blake3.AUTO)
    buffer = bytearray(HASH_CHUNK_SIZE)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            hasher.update(view[:n])
    return str(hasher.hexdigest())
