"""Helpers for dataset tests: what the stores hold, and spawned children that can import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from loopml.artifacts.local import LocalBlobBackend
from loopml.artifacts.s3 import S3BlobBackend
from loopml.sdk import Client
from loopml.store.schema import artifacts, dataset_versions


@dataclass(frozen=True)
class StoredState:
    """Everything a dataset log may write: version rows, artifact rows and blobs."""

    versions: int
    artifact_rows: int
    blobs: frozenset[str]


def stored_state_of(client: Client) -> StoredState:
    with client.stores.engine.connect() as conn:
        versions = conn.execute(select(func.count()).select_from(dataset_versions)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(artifacts)).scalar_one()
    backend = client.stores.artifacts.backend
    if isinstance(backend, LocalBlobBackend):
        blobs = {p.name for p in (backend.root / "blobs").rglob("*") if p.is_file()}
    else:
        assert isinstance(backend, S3BlobBackend)
        root = backend.url.removeprefix("s3://") + "/blobs"
        blobs = {key.rsplit("/", 1)[-1] for key in backend.fs.find(root)}
    return StoredState(versions, rows, frozenset(blobs))


@pytest.fixture
def stored_state() -> Callable[[Client], StoredState]:
    """Snapshot of what a client's stores hold, to prove a failed log wrote nothing."""
    return stored_state_of
