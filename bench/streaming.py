"""Issue 13 item 5 - a 1 GiB artifact and dataset through a real `loopml server` on loopback.

    PYTHONPATH=src .venv/bin/python bench/streaming.py                  # both modes, 1 GiB
    PYTHONPATH=src .venv/bin/python bench/streaming.py --size-mib 256 --modes proxied

Modes
  proxied    a server on a fresh workspace (SQLite + local folder): the bytes go through it
  presigned  a server on a bucket of moto's S3 server (its own process, `moto_server`),
             presigned URLs on (the default with S3): the client PUTs and GETs the bucket,
             the server copies the object out of the URL's reach, checks its size and
             BLAKE3 digest, and records it

Parts (each mode)
  artifact   `run.log_artifact(file)` of --size-mib random bytes, then
             `client.download_artifact(...)` to a new file
  dataset    (proxied only: a dataset is profiled by the server, so its bytes go through it
             anyway) `client.log_dataset(name, parquet)` of a Parquet file of about
             --size-mib of random floats, then `client.download_dataset(...)`

For each transfer: wall seconds and MB/s (1e6 bytes/s), the peak resident memory of the
client (this process) and of the server (its process tree) above their level just before,
sampled every 20 ms with psutil, and `hash_verified`: BLAKE3 of the file that came back ==
BLAKE3 of the source (computed here) == the digest the server recorded. The source files
are written before anything is timed, in chunks, so this process holds none of them.

ONE JSON line on stdout, as the last line; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from _benchlib import MIB, Noise, make_logger
from _server import BenchServer

import loopml
from loopml.artifacts.hashing import hash_file
from loopml.sdk import RemoteClient, RemoteOptions

log = make_logger("streaming")
ROWS_PER_GROUP = 1 << 19  # 4 float64 columns: 16 MiB per row group


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(process: psutil.Process, children: bool) -> int:
    """Resident bytes of a process, with its children (a server's worker processes) or
    without (this process: the servers it started are its children)."""
    members = [process, *process.children(recursive=True)] if children else [process]
    total = 0
    for member in members:
        with suppress(psutil.Error):
            total += member.memory_info().rss
    return total


@contextmanager
def peak_rss(pid: int, children: bool) -> Iterator[dict[str, int]]:
    """The highest resident memory of process `pid` while the block runs (sampled)."""
    process = psutil.Process(pid)
    seen = {"start": rss(process, children), "peak": 0}
    seen["peak"] = seen["start"]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen["peak"] = max(seen["peak"], rss(process, children))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def write_random(path: Path, size: int) -> Path:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as out:
        for i in range(size // len(block)):
            out.write(i.to_bytes(8, "little") + block[8:])
    return path


def write_parquet(path: Path, size: int) -> Path:
    rng = np.random.default_rng(13)
    schema = pa.schema([(f"x{i}", pa.float64()) for i in range(4)])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for _ in range(max(1, size // (16 * MIB))):
            columns = [pa.array(rng.random(ROWS_PER_GROUP)) for _ in range(4)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path


def measure(server_pid: int, size: int, action: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """Run `action` while sampling memory on both sides; its result and the figures."""
    with peak_rss(server_pid, True) as on_server, peak_rss(os.getpid(), False) as here:
        t0 = time.perf_counter()
        found = action()
        wall = time.perf_counter() - t0
    return found, {
        "seconds": round(wall, 3),
        "mb_per_s": round(size / 1e6 / wall, 1),
        "client_rss_start_mib": round(here["start"] / MIB, 1),
        "client_rss_peak_delta_mib": round((here["peak"] - here["start"]) / MIB, 1),
        "server_rss_start_mib": round(on_server["start"] / MIB, 1),
        "server_rss_peak_delta_mib": round((on_server["peak"] - on_server["start"]) / MIB, 1),
    }


def artifact_part(client: RemoteClient, pid: int, source: Path, digest: str, work: Path) -> Any:
    size = source.stat().st_size
    run = client.start_run("streaming", capture_code=False)
    _, upload = measure(pid, size, lambda: run.log_artifact(source, "big.bin"))
    run.end()
    (listed,) = client.list_artifacts(run.id)
    target = work / f"back-{uuid.uuid4().hex[:8]}.bin"
    _, download = measure(pid, size, lambda: client.download_artifact(run.id, "big.bin", target))
    back = hash_file(target)
    target.unlink()
    verified = listed["digest"] == digest == back and listed["size"] == size
    return {"bytes": size, "upload": upload, "download": download, "hash_verified": verified}


def dataset_part(client: RemoteClient, pid: int, source: Path, digest: str, work: Path) -> Any:
    size = source.stat().st_size
    name = "stream" + uuid.uuid4().hex[:8]
    version, upload = measure(pid, size, lambda: client.log_dataset(name, source))
    folder = work / f"back-{uuid.uuid4().hex[:8]}"
    paths, download = measure(pid, size, lambda: client.download_dataset(version, folder))
    back = hash_file(paths[0])
    shutil.rmtree(folder)
    recorded = version.files[0]
    verified = recorded["digest"] == digest == back and recorded["size"] == size
    return {
        "bytes": size,
        "rows": version.row_count,
        "upload": upload,
        "download": download,
        "hash_verified": verified,
    }


@contextmanager
def moto_server(work: Path) -> Iterator[str]:
    """moto's S3 server in a process of its own (its memory is not the server's)."""
    port = _free_port()
    out = open(work / "moto.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((work / "moto.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        out.close()


def run_mode(mode: str, args: argparse.Namespace, files: dict[str, tuple[Path, str]]) -> Any:
    work = Path(args.workdir) / mode
    work.mkdir(parents=True, exist_ok=True)
    with s3_endpoint(mode == "presigned", work) as endpoint:
        env: dict[str, str] = {}
        if endpoint is not None:
            bucket = "bench" + uuid.uuid4().hex[:8]
            fsspec.filesystem(
                "s3", client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True
            ).mkdir(bucket)
            env = {
                "LOOPML_ARTIFACTS_URL": f"s3://{bucket}/loopml",
                "LOOPML_S3_ENDPOINT_URL": endpoint,
            }
        server = BenchServer(work / "ws", 1, env).start()
        try:
            assert server.process is not None
            options = RemoteOptions(journal_dir=work / "journal", retry_s=600)
            client = RemoteClient(server.url, server.token, options)
            found: dict[str, Any] = {"server_env": env}
            try:
                for part in args.parts:
                    if part == "dataset" and mode == "presigned":
                        continue
                    log(f"{mode} {part} ...")
                    source, digest = files[part]
                    fn = artifact_part if part == "artifact" else dataset_part
                    found[part] = fn(client, server.process.pid, source, digest, work)
                    log(f"{mode} {part}: {json.dumps(found[part])}")
            finally:
                client.close()
            return found
        finally:
            server.stop()


@contextmanager
def s3_endpoint(on: bool, work: Path) -> Iterator[str | None]:
    """moto's endpoint for the presigned mode, None for the proxied one."""
    if not on:
        yield None
        return
    with moto_server(work) as url:
        yield url


def main() -> None:
    if sys.argv[1:2] == ["--generate"]:
        kind, path, size = sys.argv[2:5]
        (write_random if kind == "artifact" else write_parquet)(Path(path), int(size))
        return
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--modes", default="proxied,presigned")
    ap.add_argument("--parts", default="artifact,dataset")
    ap.add_argument("--workdir", default=None, help="default /tmp/loopml-bench/streaming-<pid>")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    args.parts = [p for p in args.parts.split(",") if p]
    if not set(modes) <= {"proxied", "presigned"} or not set(args.parts) <= {
        "artifact",
        "dataset",
    }:
        ap.error("--modes: proxied,presigned; --parts: artifact,dataset")
    if args.size_mib < 16:
        ap.error("--size-mib must be at least 16")
    args.workdir = args.workdir or f"/tmp/loopml-bench/streaming-{os.getpid()}"
    os.makedirs(args.workdir, exist_ok=True)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    noise = Noise()
    result: dict[str, Any] = {
        "workload": "issue13-streaming",
        "tool": "loopml",
        "versions": {"loopml": loopml.__version__, "python": sys.version.split()[0]},
        "config": {"size_mib": args.size_mib, "modes": modes, "parts": args.parts},
        "results": {},
    }
    try:
        size = args.size_mib * MIB
        files: dict[str, tuple[Path, str]] = {}
        for part, name in (("artifact", "source.bin"), ("dataset", "source.parquet")):
            if part in args.parts:
                path = Path(args.workdir) / name
                log(f"writing {path} ...")
                generate = [sys.executable, __file__, "--generate", part, str(path), str(size)]
                subprocess.run(generate, check=True)  # its memory is not this process's
                files[part] = (path, hash_file(path))
        for mode in modes:
            try:
                result["results"][mode] = run_mode(mode, args, files)
            except Exception as exc:  # reported in the JSON; the other mode still runs
                log(f"{mode} failed: {exc!r}")
                result["results"][mode] = {"error": repr(exc)[:2000]}
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    result["noise"] = noise.result()
    result["total_wall_s"] = noise.total_wall_s()
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
