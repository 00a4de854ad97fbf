"""Content-addressed artifact store over a local folder or S3-compatible storage."""

from loopml.artifacts.base import BlobBackend, BlobCapabilities
from loopml.artifacts.hashing import HASH_NAME, hash_bytes, hash_file, new_hasher
from loopml.artifacts.store import ArtifactRef, ArtifactStore, open_artifact_store

__all__ = [
    "HASH_NAME",
    "ArtifactRef",
    "ArtifactStore",
    "BlobBackend",
    "BlobCapabilities",
    "hash_bytes",
    "hash_file",
    "new_hasher",
    "open_artifact_store",
]
