"""Large artifacts stream through the server: flat memory on both sides, the bytes checked
end to end, and an upload cut by a dying server is sent again once it is back."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from loopml.artifacts.hashing import hash_file
from loopml.sdk import RemoteClient, RemoteOptions
from tests.server.conftest import start_server
from tests.server.live import make_principal

MIB = 1024 * 1024
SIZE = 384 * MIB  # several times the memory bound below
RSS_BOUND = 100 * MIB


def _big_file(path: Path, size: int) -> Path:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as out:
        for i in range(size // len(block)):
            out.write(bytes([i % 256]) + block[1:])
    return path


@contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, int]]:
    """The highest resident memory of process `pid` while the block runs (sampled)."""
    process = psutil.Process(pid)
    seen = {"start": process.memory_info().rss, "peak": process.memory_info().rss}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen["peak"] = max(seen["peak"], process.memory_info().rss)
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


@pytest.mark.slow
def test_a_large_artifact_streams_both_ways_in_flat_memory(tmp_path: Path, experiment: str) -> None:
    server = start_server(tmp_path / "ws")
    try:
        assert server.process is not None
        token = make_principal(server, server.admin_token(), "big", "editor")
        source = _big_file(tmp_path / "weights.bin", SIZE)
        client = RemoteClient(server.url, token, RemoteOptions(journal_dir=tmp_path / "j"))
        try:
            run = client.start_run(experiment, capture_code=False)
            with peak_rss(server.process.pid) as on_server, peak_rss(os.getpid()) as here:
                assert run.log_artifact(source) == ["weights.bin"]
            run.end()
            assert on_server["peak"] - on_server["start"] < RSS_BOUND, on_server
            assert here["peak"] - here["start"] < RSS_BOUND, here
            (listed,) = client.list_artifacts(run.id)
            assert listed["size"] == SIZE and listed["digest"] == hash_file(source)
            target = tmp_path / "back.bin"
            with peak_rss(server.process.pid) as on_server, peak_rss(os.getpid()) as here:
                client.download_artifact(run.id, "weights.bin", target)
            assert on_server["peak"] - on_server["start"] < RSS_BOUND, on_server
            assert here["peak"] - here["start"] < RSS_BOUND, here
            assert hash_file(target) == listed["digest"]
        finally:
            client.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_an_upload_cut_by_a_dying_server_is_sent_again(tmp_path: Path, experiment: str) -> None:
    server = start_server(tmp_path / "ws")
    restart = threading.Thread(target=server.start)
    try:
        token = make_principal(server, server.admin_token(), "patient", "editor")
        source = _big_file(tmp_path / "weights.bin", 256 * MIB)
        options = RemoteOptions(journal_dir=tmp_path / "j", retry_s=180)
        client = RemoteClient(server.url, token, options)
        try:
            run = client.start_run(experiment, capture_code=False)

            def cut() -> None:
                time.sleep(0.5)  # mid-upload
                server.kill()
                restart.start()

            threading.Thread(target=cut).start()
            assert run.log_artifact(source) == ["weights.bin"]
            run.end()
            (listed,) = client.list_artifacts(run.id)
            assert listed["digest"] == hash_file(source) and listed["size"] == 256 * MIB
        finally:
            client.close()
    finally:
        if restart.ident is not None:
            restart.join(180)
        server.stop()
