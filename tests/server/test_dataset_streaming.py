"""Large dataset files stream through the server both ways: flat memory on both sides, the
bytes checked end to end, and a transfer cut by a dying server carried on once it is back."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.artifacts.hashing import hash_file
from loopml.errors import ArtifactCorruptedError, ValidationError
from loopml.sdk import RemoteClient, RemoteOptions
from loopml.sdk.remote.artifacts import DIGEST_HEADER
from tests.server.conftest import start_server
from tests.server.live import LiveServer, make_principal
from tests.server.test_streaming import RSS_BOUND, peak_rss

ROWS_PER_GROUP = 500_000


def _big_parquet(path: Path, groups: int) -> Path:
    """Random floats (incompressible): 4 columns x 500k rows = 16 MiB per row group."""
    rng = np.random.default_rng(7)
    schema = pa.schema([(f"x{i}", pa.float64()) for i in range(4)])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for _ in range(groups):
            columns = [pa.array(rng.random(ROWS_PER_GROUP)) for _ in range(4)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path


def _client(server: LiveServer, tmp_path: Path, name: str) -> RemoteClient:
    token = make_principal(server, server.admin_token(), name, "editor")
    options = RemoteOptions(journal_dir=tmp_path / "j", retry_s=180)
    return RemoteClient(server.url, token, options)


@pytest.mark.slow
def test_a_large_dataset_streams_both_ways_in_flat_memory(tmp_path: Path) -> None:
    server = start_server(tmp_path / "ws")
    try:
        assert server.process is not None
        client = _client(server, tmp_path, "data-big")
        try:
            source = _big_parquet(tmp_path / "big.parquet", 16)  # 256 MiB
            size = source.stat().st_size
            with peak_rss(server.process.pid) as on_server, peak_rss(os.getpid()) as here:
                version = client.log_dataset("big", source)
            assert version.row_count == 16 * ROWS_PER_GROUP
            assert version.files[0]["digest"] == hash_file(source)
            assert version.files[0]["size"] == size
            assert on_server["peak"] - on_server["start"] < RSS_BOUND, on_server
            assert here["peak"] - here["start"] < RSS_BOUND, here
            assert client.log_dataset("big", source).id == version.id  # same bytes, same version
            with peak_rss(server.process.pid) as on_server, peak_rss(os.getpid()) as here:
                (back,) = client.download_dataset("big@1", tmp_path / "back")
            assert on_server["peak"] - on_server["start"] < RSS_BOUND, on_server
            assert here["peak"] - here["start"] < RSS_BOUND, here
            assert back == (tmp_path / "back" / "big.parquet").resolve()
            assert hash_file(back) == version.files[0]["digest"]
        finally:
            client.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_dataset_upload_and_download_cut_by_a_dying_server_carry_on(tmp_path: Path) -> None:
    server = start_server(tmp_path / "ws")
    restarts: list[threading.Thread] = []

    def cut_soon() -> None:
        def cut() -> None:
            time.sleep(0.4)  # mid-transfer
            server.kill()
            server.start()

        thread = threading.Thread(target=cut)
        restarts.append(thread)
        thread.start()

    try:
        client = _client(server, tmp_path, "data-patient")
        try:
            source = _big_parquet(tmp_path / "cut.parquet", 12)  # 192 MiB
            cut_soon()
            version = client.log_dataset("cut", source)
            restarts[-1].join(180)
            assert version.version == 1 and version.files[0]["digest"] == hash_file(source)
            cut_soon()
            (back,) = client.download_dataset(version, tmp_path / "back")
            restarts[-1].join(180)
            assert hash_file(back) == hash_file(source)
        finally:
            client.close()
    finally:
        for thread in restarts:
            thread.join(180)
        server.stop()


def test_a_dataset_upload_whose_bytes_do_not_match_their_digest_is_refused(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    client = RemoteClient(
        sqlite_server.url, role_tokens["editor"], RemoteOptions(journal_dir=tmp_path / "j")
    )
    try:
        name = "liar" + os.urandom(4).hex()
        body = b"a,b\n1,2\n"
        with pytest.raises(ArtifactCorruptedError, match="BLAKE3"):
            client.http.call(
                "POST",
                f"/datasets/{name}/versions",
                params={"filename": "x.csv"},
                content=lambda: body,
                headers={DIGEST_HEADER: "0" * 64},
            )
        assert client.http.call("GET", "/datasets", params={"name": name})["datasets"] == []
    finally:
        client.close()


def test_a_remote_dataset_round_trips_a_dataframe(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    client = RemoteClient(
        sqlite_server.url, role_tokens["editor"], RemoteOptions(journal_dir=tmp_path / "j")
    )
    try:
        frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        name = "frame" + os.urandom(4).hex()
        version = client.log_dataset(name, frame, description="three rows")
        assert client.get_dataset(f"{name}@1").id == version.id
        assert client.load_dataset(version).to_dict("list") == frame.to_dict("list")
        with pytest.raises(ValidationError, match="CSV, TSV or Parquet"):
            client.log_dataset(name, tmp_path)
    finally:
        client.close()
