"""The S3 backend against a real S3 server (moto on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loopml.artifacts.s3 import S3BlobBackend

pytestmark = pytest.mark.s3

KEY = "ef" + "2" * 62


def test_blobs_live_under_the_prefix(s3_url: str, s3_server: str) -> None:
    backend = S3BlobBackend(s3_url + "/", endpoint_url=s3_server)
    staged = backend.staging_path()
    staged.write_bytes(b"data")

    backend.publish(staged, KEY, fsync=True)

    key = f"{s3_url.removeprefix('s3://')}/blobs/ef/{'2' * 62}"
    assert backend.fs.cat_file(key) == b"data"
    assert backend.url == s3_url
    assert backend.local_path(KEY) is None
    assert not staged.exists()


def test_a_failed_upload_removes_the_staging_file(s3_server: str, s3_filesystem: Any) -> None:
    backend = S3BlobBackend("s3://no-such-bucket-here/prefix", endpoint_url=s3_server)
    staged: Path = backend.staging_path()
    staged.write_bytes(b"data")

    with pytest.raises(OSError):
        backend.publish(staged, KEY, fsync=False)

    assert not staged.exists()
    assert not s3_filesystem.exists("no-such-bucket-here")
