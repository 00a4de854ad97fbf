"""`open_stores`: the metadata engine and artifact store built from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.artifacts.local import LocalBlobBackend
from loopml.config import init_workspace, load_settings
from loopml.errors import ConfigError
from loopml.store import open_stores
from loopml.store.migrate import current_revision, head_revision


def test_open_stores_builds_everything_from_settings(tmp_path: Path, store_url: str) -> None:
    root = init_workspace(tmp_path / "ws")
    settings = load_settings(
        root, environ={}, store_url=store_url, artifacts_fsync=True, cache_dir="my-cache"
    )

    stores = open_stores(settings)
    try:
        assert current_revision(stores.engine) == head_revision()
        assert isinstance(stores.artifacts.backend, LocalBlobBackend)
        assert stores.artifacts.backend.root == root / ".loopml" / "artifacts"
        assert stores.artifacts.cache_dir == root / "my-cache"
        assert stores.artifacts.fsync is True
        assert stores.journal_dir == root / ".loopml" / "journal"
        assert stores.artifacts.read_bytes(stores.artifacts.put_bytes(b"x").digest) == b"x"
    finally:
        stores.close()


def test_reopening_a_workspace_keeps_its_data(tmp_path: Path) -> None:
    settings = load_settings(init_workspace(tmp_path), environ={})
    first = open_stores(settings)
    digest = first.artifacts.put_bytes(b"kept").digest
    first.close()

    second = open_stores(settings)
    try:
        assert second.artifacts.read_bytes(digest) == b"kept"
        assert current_revision(second.engine) == head_revision()
    finally:
        second.close()


def test_unsupported_store_url_is_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={}, store_url="sqlite:nonsense")

    with pytest.raises(ConfigError, match="malformed"):
        open_stores(settings)
