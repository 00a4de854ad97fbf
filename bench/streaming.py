"""Issue 13 item 5 - a 1 GiB artifact and dataset through a real `loopml server` on loopback.

    PYTHONPATH=src .venv/bin/python bench/streaming.py                  # both modes, 1 GiB
    PYTHONPATH=src .venv/bin/python bench/streaming.py --size-mib 256 --modes proxied
    PYTHONPATH=src .venv/bin/python bench/streaming.py --modes proxied --parts artifact --peer

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

Peer (--peer, after loopml's modes, never beside them)
  mlflow     MLflow's proxied artifact path on the same source file: `mlflow server` from
             its environment (--mlflow-venv, default .venv-mlflow-server) on a fresh SQLite
             store, `--serve-artifacts --artifacts-destination <folder> --workers 1` (one
             worker, as loopml's server here), in its own process group; the stock client
             (bench/_mlflow_artifact_client.py, in a subprocess of that environment) runs
             `mlflow.log_artifact(file)` then `MlflowClient().download_artifacts(...)`,
             each timed inside it. The same sampler measures that subprocess and the MLflow
             server's process tree (once that tree has stopped growing: its job consumers
             go on importing after /health answers), and the file that came back is
             checked against the source's BLAKE3. Under `peer`, with `side_by_side`
             (loopml proxied vs MLflow); a failed or timed-out transfer (--peer-timeout-s)
             is recorded with its message.

ONE JSON line on stdout, as the last line; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
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
from _mlflow_server import mlflow_server
from _server import BenchServer

import loopml
from loopml.artifacts.hashing import hash_file
from loopml.sdk import RemoteClient, RemoteOptions

log = make_logger("streaming")
ROWS_PER_GROUP = 1 << 19  # 4 float64 columns: 16 MiB per row group
HERE = Path(__file__).resolve().parent
MLFLOW_CLIENT = HERE / "_mlflow_artifact_client.py"
PEER_START_S = 300.0  # for MLflow's client to import and create its run, its server to settle


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


def mlflow_peer(args: argparse.Namespace, source: Path, digest: str) -> dict[str, Any]:
    """MLflow's proxied artifact path on the same file: `mlflow server` (its own venv, one
    worker like loopml's server, SQLite, `--serve-artifacts` into a local folder) and the
    stock client in a subprocess of that venv; memory sampled as for loopml's rows."""
    venv = Path(args.mlflow_venv)
    if not (venv / "bin" / "mlflow").exists():
        raise RuntimeError(f"no MLflow environment at {venv} (make .venv-mlflow-server/.installed)")
    work = Path(args.workdir) / "mlflow"
    (work / "back").mkdir(parents=True, exist_ok=True)
    extra = ["--serve-artifacts", "--artifacts-destination", str(work / "artifacts")]
    extra += ["--workers", "1"]
    found: dict[str, Any] = {"tool": "mlflow", "server_options": extra}
    with mlflow_server(venv / "bin" / "mlflow", work, extra) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOOPML_"))}
        env["MLFLOW_TRACKING_URI"] = server.url
        back = work / "back"
        command = [str(venv / "bin" / "python"), str(MLFLOW_CLIENT), str(source), str(back)]
        client = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        try:
            lines = _lines(client)
            opening = _next(lines, PEER_START_S)
            found["versions"] = {"mlflow": opening.get("mlflow")}
            found["artifact_uri"] = opening.get("uri")
            found["server_processes"] = processes(server.process.pid)
            size = source.stat().st_size
            part: dict[str, Any] = {"bytes": size}
            for phase in ("upload", "download"):
                ready = _next(lines, PEER_START_S)
                if ready.get("ready") != phase:
                    break  # the upload failed: the client skips the download
                pid = server.process.pid
                found.setdefault("settle_s", {})[phase] = settle(pid, PEER_START_S)
                log(f"mlflow artifact {phase} ...")
                part[phase] = _peer_phase(client, lines, pid, size, args.peer_timeout_s)
                if "error" in part[phase]:
                    break
            target = back / source.name
            part["hash_verified"] = target.exists() and hash_file(target) == digest
            target.unlink(missing_ok=True)
            found["artifact"] = part
        finally:
            if client.poll() is None:
                client.kill()
            client.wait(10)
    log(f"mlflow artifact: {json.dumps(found.get('artifact'))}")
    return found


def settle(pid: int, timeout_s: float, window: int = 6, tolerance: int = 4 * MIB) -> float:
    """Wait until a server's process tree stops growing: `mlflow server` answers /health
    while its job consumers are still importing (some 80 MiB each), which would otherwise
    count as the transfer's memory. The seconds waited (its last `window` half-second
    samples within `tolerance`), or -1.0 if it never settled within `timeout_s`."""
    process = psutil.Process(pid)
    t0 = time.monotonic()
    seen: list[int] = []
    while time.monotonic() - t0 < timeout_s:
        seen = [*seen[-(window - 1) :], rss(process, True)]
        if len(seen) == window and max(seen) - min(seen) <= tolerance:
            return round(time.monotonic() - t0, 1)
        time.sleep(0.5)
    return -1.0


def processes(pid: int) -> list[dict[str, Any]]:
    """What a server's process tree holds (command, resident MiB): its level before any
    transfer, which MLflow's job consumers and workers make far higher than loopml's."""
    root = psutil.Process(pid)
    found = []
    for member in [root, *root.children(recursive=True)]:
        with suppress(psutil.Error):
            command = " ".join(member.cmdline())[:160]
            found.append({"cmd": command, "rss_mib": round(member.memory_info().rss / MIB, 1)})
    return found


def _peer_phase(
    client: subprocess.Popen[str],
    lines: queue.Queue[str | None],
    server_pid: int,
    size: int,
    timeout_s: float,
) -> dict[str, Any]:
    """Let the client run one transfer while sampling both sides (the client with its
    children, should it start any); the figures, or the transfer's failure with them."""
    with peak_rss(server_pid, True) as on_server, peak_rss(client.pid, True) as there:
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
        try:
            done = _next(lines, timeout_s)
        except TimeoutError as exc:
            client.kill()
            done = {"error": str(exc)}
    figures: dict[str, Any] = {}
    if "seconds" in done:
        figures["seconds"] = done["seconds"]
        figures["mb_per_s"] = round(size / 1e6 / max(done["seconds"], 1e-9), 1)
    figures |= {
        "client_rss_start_mib": round(there["start"] / MIB, 1),
        "client_rss_peak_delta_mib": round((there["peak"] - there["start"]) / MIB, 1),
        "server_rss_start_mib": round(on_server["start"] / MIB, 1),
        "server_rss_peak_delta_mib": round((on_server["peak"] - on_server["start"]) / MIB, 1),
    }
    if "error" in done:
        figures["error"] = done["error"]
    return figures


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout lines, read by a thread (None at its end), so a wait can time out."""
    found: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line)
        found.put(None)

    threading.Thread(target=read, daemon=True).start()
    return found


def _next(lines: queue.Queue[str | None], timeout_s: float) -> dict[str, Any]:
    """The client's next JSON message (its other output is passed on to stderr)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"the MLflow client said nothing for {timeout_s:.0f} s") from None
        if line is None:
            raise RuntimeError("the MLflow client exited early (its stderr is above)")
        if line.startswith("{"):
            message: dict[str, Any] = json.loads(line)
            return message
        sys.stderr.write(line)


def side_by_side(result: dict[str, Any]) -> dict[str, Any]:
    """loopml's proxied artifact row beside MLflow's, field by field, as the note quotes them."""
    rows = {
        "loopml_proxied": result["results"].get("proxied", {}).get("artifact"),
        "mlflow": result.get("peer", {}).get("artifact"),
    }
    fields = ("seconds", "mb_per_s", "client_rss_peak_delta_mib", "server_rss_peak_delta_mib")
    table: dict[str, Any] = {}
    for name, row in rows.items():
        if not row:
            continue
        table[name] = {"hash_verified": row.get("hash_verified")}
        for phase in ("upload", "download"):
            figures = row.get(phase) or {}
            table[name][phase] = {k: figures.get(k) for k in (*fields, "error") if k in figures}
    return table


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
    ap.add_argument(
        "--peer", action="store_true", help="also MLflow's proxied artifact path, same file"
    )
    ap.add_argument(
        "--mlflow-venv",
        default=os.environ.get("LOOPML_MLFLOW_SERVER_VENV", HERE.parent / ".venv-mlflow-server"),
        help="the MLflow environment (mlflow-server-requirements.txt) for --peer",
    )
    ap.add_argument(
        "--peer-timeout-s", type=float, default=1800.0, help="longest wait for one MLflow transfer"
    )
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m and m != "none"]
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
        "config": {
            "size_mib": args.size_mib,
            "modes": modes,
            "parts": args.parts,
            "peer": args.peer,
        },
        "results": {},
    }
    try:
        size = args.size_mib * MIB
        files: dict[str, tuple[Path, str]] = {}
        for part, name in (("artifact", "source.bin"), ("dataset", "source.parquet")):
            if part in args.parts or (part == "artifact" and args.peer):
                source = Path(args.workdir) / name
                log(f"writing {source} ...")
                generate = [sys.executable, __file__, "--generate", part, str(source), str(size)]
                subprocess.run(generate, check=True)  # its memory is not this process's
                files[part] = (source, hash_file(source))
        for mode in modes:
            try:
                result["results"][mode] = run_mode(mode, args, files)
            except Exception as exc:  # reported in the JSON; the other mode still runs
                log(f"{mode} failed: {exc!r}")
                result["results"][mode] = {"error": repr(exc)[:2000]}
        if args.peer:
            try:
                result["peer"] = mlflow_peer(args, *files["artifact"])
                result["versions"]["mlflow"] = result["peer"]["versions"]["mlflow"]
            except Exception as exc:  # reported in the JSON; loopml's figures stand
                log(f"mlflow failed: {exc!r}")
                result["peer"] = {"tool": "mlflow", "error": repr(exc)[:2000]}
            result["side_by_side"] = side_by_side(result)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    result["noise"] = noise.result()
    result["total_wall_s"] = noise.total_wall_s()
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
