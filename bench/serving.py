"""W2 - loopml model serving, the same workload as the MLflow peer benchmark.

Mirrors shared/bench/peers/mlflow_serving.py (the same model, the same request bodies, the
same load configs, the same `summary.<config>` keys) with `loopml serve` as the server.
Progress goes to stderr; ONE JSON line goes to stdout, as the last line.

What it does
  1. trains GradientBoostingClassifier(n_estimators=100, random_state=0) on sklearn's
     load_breast_cancer (569 x 30, as a DataFrame), exactly as the peer does
  2. in a fresh workspace (`loopml.connect(<temp dir>)`) logs it with
     `run.log_model(model, name=..., input_example=X)` (the signature: the 30 named float
     columns) and creates a deployment of that version
  3. starts `loopml --workspace WS serve --port <free> DEPLOYMENT` (one process, the
     defaults: prediction log and metrics on) in its own process group and waits for
     /readyz; the predictions it returns for the 1- and 100-row bodies must equal
     model.predict
  4. loads POST /invocations for --duration seconds per config (configs interleaved,
     --reps times, after a 3 s warm-up per body, then a wait until the server group is
     idle: its log writers start during the warm-up), as the peer does:
       1row_c1    1-row {"dataframe_split": ...} body (861 bytes)   concurrency 1
       1row_c16   1-row                                              concurrency 16
       100row_c4  100-row body (24.8 kB)                             concurrency 4
     with the Debian `wrk` (apt-get installed if missing and root), or a Python asyncio
     keep-alive client in a subprocess if there is no wrk (or with --no-wrk)
  5. stops the server by its process-group id; the prediction log it flushed on shutdown
     must hold every request the server counted in /metrics
  6. with --unbatched, does 3-5 again with a second deployment of the same version served
     with `--batch-rows 0` (micro-batching off; it is on by default); its configs are
     reported as `<config>_unbatched`
  7. with --workers N (N > 1), does 3-5 again with `loopml serve --workers N`
     (`<config>_wN`)
  8. with --xgboost, does 3-5 again for an XGBClassifier(n_estimators=100) trained on the
     same data, served natively (`<config>_xgb`)
  9. with --peers, runs the peers one after the other in the same session: MLflow serving
     the same model, the bare FastAPI DataFrame and ndarray apps (shared/bench/peers), and
     with --xgboost MLflow serving the same XGBoost model (bench/mlflow_xgboost_serving.py);
     their summaries land under `peers` and issue #18's targets under `targets`

Each load run also reports `server_cpu_ms_per_req` (CPU seconds of the server's process
group over the run / requests), `errors` (connect/read/write/timeout errors and non-2xx
answers; must be 0), `machine_busy_pct`, `others_busy_pct` and `inflight_by_little` (req/s
x mean latency: at most the concurrency when the latencies are real per-request figures),
`cpu_ms_per_req` by role (`worker_loop`: the workers' event-loop threads, `worker_threads`:
their other threads, `log_writer`: the prediction log's writer processes, `supervisor`,
`load_generator`: wrk), `connections_by_worker` (how SO_REUSEPORT spread wrk's connections)
and `worker_cpu_share`, `rows_per_predict_call` (micro-batch size, from /metrics). With
--workers N, `workers_ratio_bound` gives per config the N-worker / 1-worker req/s ratio that
CPU per request allows on this machine: one worker is bounded by its event loop (1000 /
worker_loop ms), N workers by the cores (cores x 1000 / all_total ms). `bound` uses the
N-worker CPU per request as measured, `bound_at_equal_cpu` the one-worker CPU per request
(the best any N-worker server could do beside this load generator on these cores),
`bound_without_load_generator` leaves wrk's CPU out; `target_within_bound*` compare them
with the 1.7x target. CPU per request, unlike req/s, holds up on a shared machine.
`--no-log` (a diagnostic, not the benchmark) serves without the prediction log;
`--configs 1row_c16` (iteration, not the benchmark) loads only the configs named.

    .venv/bin/python bench/serving.py                      # --reps 3 --duration 15, ~3 min
    .venv/bin/python bench/serving.py --peers --workers 2 --xgboost   # everything, ~25 min
    .venv/bin/python bench/serving.py --duration 5 --reps 1 --unbatched
    .venv/bin/python bench/serving.py --workers 2 --configs 1row_c16 --duration 8 --reps 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from _benchlib import Noise, agg, busy_pct, cpu_snap, make_logger, others_pct
from _roles import (
    HZ,
    ROLES,
    connections_by_worker,
    cpu_split,
    ratio_bound,
    ratio_bounds,
    snapshot,
)
from serving_peers import default_peers_dir, peer_commands, run_peers, targets

log = make_logger("loopml_serving")

CONFIGS = [("1row_c1", 1, 1), ("1row_c16", 1, 16), ("100row_c4", 100, 4)]
DEPLOYMENT = "breast_cancer"
XGB_DEPLOYMENT = "breast_cancer_xgb"
METRICS_COPY_S = 1.0  # loopml.serving.metric_files.FLUSH_INTERVAL_S
WORKERS_TARGET = 1.7  # issue #18: --workers 2 at >= 1.7x one worker's req/s

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("%s", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,'
    .. '"err_connect":%%d,"err_read":%%d,"err_write":%%d,"err_status":%%d,"err_timeout":%%d,'
    .. '"lat_mean_us":%%.1f,"lat_p50_us":%%d,"lat_p90_us":%%d,"lat_p99_us":%%d,'
    .. '"lat_max_us":%%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


# ------------------------------------------------------------------ process helpers
def group_stats(pgid: int) -> tuple[float, list[int]]:
    """CPU seconds (user + system) of every live process in group `pgid`, and their pids."""
    hz = os.sysconf("SC_CLK_TCK")
    ticks, pids = 0, []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
            if fields[0] != "Z":
                pids.append(int(entry))
    return ticks / hz, pids


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def http(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """`loopml serve` in its own process group (session), stopped by the group id."""

    def __init__(self, cmd: list[str], env: dict[str, str], logpath: Path) -> None:
        self.cmd = cmd
        self.logpath = logpath
        self._log: IO[bytes] = open(logpath, "wb")  # noqa: SIM115 - closed in stop()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.pgid = self.proc.pid
        log(f"started server pid={self.proc.pid}: {' '.join(cmd)}")

    def wait_ready(self, url: str, timeout: float = 120) -> float:
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early; see {self.logpath}")
            try:
                status, _ = http(url, timeout=2)
                if status == 200:
                    return time.perf_counter() - self.t0
            except OSError:
                pass
            if time.perf_counter() - self.t0 > timeout:
                raise RuntimeError(f"server not ready in {timeout} s; see {self.logpath}")
            time.sleep(0.1)

    def stop(self) -> float:
        """SIGTERM to the group, SIGKILL after 25 s; returns the seconds it took."""
        t0 = time.perf_counter()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        deadline = time.time() + 25
        while time.time() < deadline and group_stats(self.pgid)[1]:
            self.proc.poll()
            time.sleep(0.1)
        if group_stats(self.pgid)[1]:
            log(f"group {self.pgid} survived SIGTERM; SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._log.close()
        log(f"stopped server pgid={self.pgid} (exit {self.proc.returncode})")
        return time.perf_counter() - t0


# ------------------------------------------------------------------ load generation
def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found; apt-get install -y wrk")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.call(cmd, stdout=sys.stderr, stderr=sys.stderr)
    return shutil.which("wrk")


def run_load(
    wrk: str | None,
    url: str,
    body_path: Path,
    conc: int,
    duration: float,
    pgid: int,
    several: bool = False,
) -> dict[str, Any]:
    """One load run: req/s, latency (ms), errors, server CPU (by role), noise."""
    base = url.rsplit("/", 1)[0]
    calls0 = predict_calls(base)
    c0, s0 = cpu_snap(), group_stats(pgid)[0]
    roles0 = snapshot(pgid, several)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if wrk:
        lua = body_path.with_suffix(".lua")
        lua.write_text(LUA % body_path)
        cmd = [wrk, "-t1", f"-c{conc}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(lua)]
        gen = "wrk"
    else:
        spec = {"url": url, "body": str(body_path), "conc": conc, "duration": duration}
        cmd = [sys.executable, os.path.abspath(__file__), "--_loadgen", json.dumps(spec)]
        gen = "python-asyncio"
    gen_proc = subprocess.Popen(
        [*cmd, url] if wrk else cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(min(1.0, duration / 2))  # every connection is open by now
    spread = connections_by_worker(pgid, urlparse(url).port or 80)
    stdout, stderr = gen_proc.communicate(timeout=duration + 60)
    out = subprocess.CompletedProcess(gen_proc.args, gen_proc.returncode, stdout, stderr)
    lines = [x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")]
    if not lines:
        raise RuntimeError(f"{gen} failed: {out.stdout}{out.stderr}")
    w = json.loads(lines[-1][len("WRKJSON ") :])
    busy = busy_pct(c0, cpu_snap())
    srv_cpu = group_stats(pgid)[0] - s0
    roles1 = snapshot(pgid, several)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    dur = w["duration_us"] / 1e6
    if several:
        time.sleep(METRICS_COPY_S + 0.25)  # the other workers' metrics reach their files
    calls = {k: v - calls0.get(k, 0.0) for k, v in predict_calls(base).items()}
    errs = sum(w[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    split = cpu_split(roles0, roles1, w["requests"], gen_cpu)
    return {
        "loadgen": gen,
        "requests": w["requests"],
        "duration_s": round(dur, 2),
        "req_per_s": round(w["requests"] / dur, 1),
        "lat_p50_ms": round(w["lat_p50_us"] / 1000, 2),
        "lat_p90_ms": round(w["lat_p90_us"] / 1000, 2),
        "lat_p99_ms": round(w["lat_p99_us"] / 1000, 2),
        "lat_max_ms": round(w["lat_max_us"] / 1000, 2),
        "lat_mean_ms": round(w["lat_mean_us"] / 1000, 2),
        "errors": errs,
        "errors_by_kind": {k[4:]: w[k] for k in w if k.startswith("err_") and w[k]},
        "server_cpu_s": round(srv_cpu, 2),
        "server_cpu_ms_per_req": round(1000 * srv_cpu / max(1, w["requests"]), 3),
        "loadgen_cpu_s": round(gen_cpu, 2),
        # CPU ms per request by role (worker event loops, worker threads, log writers,
        # supervisor, load generator) and how the connections spread over the workers
        "cpu_ms_per_req": split["cpu_ms_per_req"],
        "worker_cpu_share": split["worker_cpu_share"],
        "connections_by_worker": spread,
        # micro-batches: predict calls and rows per call over the run (from /metrics)
        "predict_calls": round(calls.get("calls", 0.0)),
        # None: nothing batched (a request of max_rows rows or more is scored alone)
        "rows_per_predict_call": round(calls["rows"] / calls["calls"], 2)
        if calls.get("calls")
        else None,
        "group_changed": split["changed"],
        "machine_busy_pct": busy,
        "others_busy_pct": others_pct(busy, srv_cpu + gen_cpu, wall),
        # Little's law: requests in flight = throughput x mean latency, at most `conc`;
        # above it, the load generator's latency figures are not per-request latencies
        "inflight_by_little": round(w["requests"] / dur * w["lat_mean_us"] / 1e6, 2),
    }


def selected_configs(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """The configs `--configs` names (all of them by default), in CONFIGS' order."""
    wanted = args.configs or [name for name, _, _ in CONFIGS]
    return [c for c in CONFIGS if c[0] in wanted]


def settle(pgid: int, several: bool, timeout_s: float = 20.0) -> None:
    """Wait until the group is idle after the warm-up: the log writer processes start on
    the first large flush (a fresh interpreter importing pandas, pyarrow and the store:
    seconds of CPU on a busy machine) and their last warm-up ranges must not be counted
    as the first measured config's CPU."""
    deadline = time.monotonic() + timeout_s
    before = snapshot(pgid, several)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = snapshot(pgid, several)
        busy = sum(after.ticks.values()) - sum(before.ticks.values())
        if busy <= 0.05 * HZ and after.pids == before.pids:  # under 10 % of a core
            return
        before = after
    log(f"the server group was still busy {timeout_s:g} s after the warm-up")


def run_matrix(
    wrk: str | None,
    url: str,
    bodies: dict[int, Path],
    args: argparse.Namespace,
    pgid: int,
    suffix: str,
    warmup_s: float = 3,
    several: bool = False,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    configs = selected_configs(args)
    for rows in sorted({r for _, r, _ in configs}):  # warm-up per body, discarded
        run_load(wrk, url, bodies[rows], 4, warmup_s, pgid, several)
    settle(pgid, several)
    runs: dict[str, list[dict[str, Any]]] = {name + suffix: [] for name, _, _ in configs}
    for rep in range(args.reps):
        for name, rows, conc in configs:
            r = run_load(wrk, url, bodies[rows], conc, args.duration, pgid, several)
            r["rows_per_s"] = round(r["req_per_s"] * rows, 1)
            log(
                f"rep {rep + 1}/{args.reps} {name + suffix}: {r['req_per_s']} req/s "
                f"p50 {r['lat_p50_ms']} ms p99 {r['lat_p99_ms']} ms errors {r['errors']} "
                f"cpu/req {r['server_cpu_ms_per_req']} ms {r['cpu_ms_per_req']} "
                f"conns {r['connections_by_worker']} rows/call {r['rows_per_predict_call']} "
                f"busy {r['machine_busy_pct']}% "
                f"(others {r['others_busy_pct']}%)"
            )
            if r["inflight_by_little"] > 1.2 * conc:
                log(
                    f"WARNING: {name + suffix}: req/s x mean latency = "
                    f"{r['inflight_by_little']} requests in flight with {conc} connections: "
                    "the latency figures of this run are inconsistent"
                )
            runs[name + suffix].append(r)
    summary: dict[str, Any] = {}
    for name, rows, conc in configs:
        rs = runs[name + suffix]
        summary[name + suffix] = {
            "rows_per_request": rows,
            "concurrency": conc,
            "req_per_s": agg([r["req_per_s"] for r in rs], 1),
            "rows_per_s": agg([r["rows_per_s"] for r in rs], 1),
            "lat_p50_ms": agg([r["lat_p50_ms"] for r in rs], 2),
            "lat_p99_ms": agg([r["lat_p99_ms"] for r in rs], 2),
            "server_cpu_ms_per_req": agg([r["server_cpu_ms_per_req"] for r in rs], 3),
            "cpu_ms_per_req": {
                role: statistics.median(r["cpu_ms_per_req"][role] for r in rs)
                for role in (*ROLES, "load_generator", "server_total", "all_total")
            },
            "errors_total": sum(r["errors"] for r in rs),
            "rows_per_predict_call": agg([r["rows_per_predict_call"] for r in rs], 2),
            "others_busy_pct": agg([r["others_busy_pct"] for r in rs], 1),
        }
    return summary, runs


# ------------------------------------------------------------------ fallback loadgen
async def _lg_worker(
    host: str,
    port: int,
    req: bytes,
    deadline: float,
    lats: list[float],
    errs: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            writer.write(req)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lats.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                errs["status"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            errs["read"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
    writer.close()


def loadgen_main(spec: dict[str, Any]) -> None:
    """The asyncio keep-alive client (no wrk): prints wrk's WRKJSON line."""
    u = urlparse(spec["url"])
    host, port = u.hostname or "127.0.0.1", u.port or 80
    body = Path(spec["body"]).read_bytes()
    head = (
        f"POST {u.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    req = head.encode() + body
    lats: list[float] = []
    errs = {"status": 0, "read": 0}

    async def go() -> None:
        deadline = time.perf_counter() + spec["duration"]
        workers = [_lg_worker(host, port, req, deadline, lats, errs) for _ in range(spec["conc"])]
        await asyncio.gather(*workers)

    t0 = time.perf_counter()
    asyncio.run(go())
    dur = time.perf_counter() - t0
    lats.sort()

    def pct(p: float) -> int:
        return int(lats[min(len(lats) - 1, int(p / 100 * len(lats)))] * 1e6) if lats else 0

    out = {
        "requests": len(lats),
        "duration_us": int(dur * 1e6),
        "bytes": 0,
        "err_connect": 0,
        "err_read": errs["read"],
        "err_write": 0,
        "err_status": errs["status"],
        "err_timeout": 0,
        "lat_mean_us": (sum(lats) / len(lats) * 1e6) if lats else 0,
        "lat_p50_us": pct(50),
        "lat_p90_us": pct(90),
        "lat_p99_us": pct(99),
        "lat_max_us": int(lats[-1] * 1e6) if lats else 0,
    }
    print("WRKJSON " + json.dumps(out), flush=True)


# ------------------------------------------------------------------ model and workspace
def time_call(
    fn: Callable[[], object],
    target_s: float = 0.4,
    repeat: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Median over `repeat` of the mean per-call time (ms), as the peer's time_call
    (`clock=time.process_time`: CPU time, which a busy machine disturbs less)."""
    timer = timeit.Timer(fn, timer=clock)
    n, _ = timer.autorange()
    n = max(1, int(n * target_s / 0.2))
    per = [x / n * 1000 for x in timer.repeat(repeat=repeat, number=n)]
    return {
        "median_ms": round(statistics.median(per), 4),
        "min_ms": round(min(per), 4),
        "max_ms": round(max(per), 4),
        "loops": n,
        "repeat": repeat,
    }


def write_bodies(frame: Any, workdir: Path) -> dict[int, Path]:
    """The peer's bodies, byte for byte: json.dump of {"dataframe_split": ...}."""
    bodies = {}
    for rows in (1, 100):
        sub = frame.iloc[:rows]
        payload = {"dataframe_split": {"columns": list(sub.columns), "data": sub.values.tolist()}}
        path = workdir / f"body_{rows}.json"
        with open(path, "w") as f:
            json.dump(payload, f)
        bodies[rows] = path
    return bodies


def predict_calls(base: str) -> dict[str, float]:
    """Predict calls and rows scored so far (the batch-rows histogram), {} when unknown."""
    try:
        status, raw = http(f"{base}/metrics", timeout=10)
    except OSError:
        return {}
    if status != 200:
        return {}
    sums = metric_sums(raw.decode())
    return {
        "calls": sums.get("loopml_serving_batch_rows_count", 0.0),
        "rows": sums.get("loopml_serving_batch_rows_sum", 0.0),
    }


def metric_sums(text: str) -> dict[str, float]:
    """Prometheus exposition -> {series name: sum over its label sets}."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        try:
            sums[name] = sums.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return sums


def logged_predictions(workspace: Path, deployment: str) -> dict[str, int] | None:
    """Requests and rows in the deployment's prediction log (after the server flushed it)."""
    import loopml
    from loopml.prediction_log import queries

    client = loopml.connect(workspace, create=False)
    try:
        assert isinstance(client, loopml.Client)  # a workspace folder, never a server URL
        with queries.connect(client.stores, deployment) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT request_id), count(*) FROM predictions WHERE NOT shadow"
            ).fetchone()
    except Exception as exc:  # a diagnostic: never lose the measured figures over it
        log(f"could not read the prediction log: {exc!r}")
        return None
    finally:
        client.close()
    return {"requests": int(row[0]), "rows": int(row[1])} if row else None


def serve_and_load(
    args: argparse.Namespace,
    wrk: str | None,
    workspace: Path,
    deployment: str,
    extra: list[str],
    bodies: dict[int, Path],
    expected: dict[int, list[Any]],
    suffix: str,
) -> dict[str, Any]:
    """Start `loopml serve`, verify its answers, load it, stop it, check its prediction log."""
    loopml_bin = str(Path(sys.executable).parent / "loopml")
    if not os.path.exists(loopml_bin):
        loopml_bin = shutil.which("loopml") or loopml_bin
    port = free_port()
    cmd = [loopml_bin, "--workspace", str(workspace), "serve", "--port", str(port)]
    cmd += ["--auth", "open"]  # measured without tokens, like the peer it is compared with
    cmd += [*extra, deployment]
    env = dict(os.environ)
    server = Server(cmd, env, Path(args.workdir) / f"serve{suffix or '_plain'}.log")
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/invocations"
    info: dict[str, Any] = {"cmd": " ".join([*cmd[:1], "--workspace", "WS", *cmd[3:]])}
    try:
        info["startup_to_ready_s"] = round(server.wait_ready(f"{base}/readyz"), 2)
        info["processes"] = len(group_stats(server.pgid)[1])
        for rows, path in bodies.items():
            status, raw = http(url, path.read_bytes())
            assert status == 200, (status, raw[:500])
            served = json.loads(raw)["predictions"]
            assert served == expected[rows], f"served predictions differ ({rows} rows)"
        _, raw = http(f"{base}/v1/deployments/{deployment}")
        route = json.loads(raw)["routes"][0]
        info["model"] = route["model"]
        info["model_input"] = route["input"]
        info["rss_after_start_mib"] = round((proc_status_kib(server.pgid, "VmRSS") or 0) / 1024, 1)
        log(
            f"ready after {info['startup_to_ready_s']} s ({info['processes']} process(es)); "
            f"predictions verified; model fed a(n) {route['input']}; loading {url}"
        )
        several = "--workers" in extra
        summary, runs = run_matrix(wrk, url, bodies, args, server.pgid, suffix, several=several)
        _, raw = http(f"{base}/metrics")
        sums = metric_sums(raw.decode())
        info["metrics"] = {
            "requests_total": sums.get("loopml_serving_requests_total"),
            "errors_total": sums.get("loopml_serving_errors_total", 0.0),
            "rows_total": sums.get("loopml_serving_rows_total"),
            "predict_calls": sums.get("loopml_serving_batch_rows_count"),
            "mean_rows_per_predict_call": round(
                sums.get("loopml_serving_batch_rows_sum", 0.0)
                / max(1.0, sums.get("loopml_serving_batch_rows_count", 0.0)),
                2,
            ),
        }
        info["rss_after_load_mib"] = round((proc_status_kib(server.pgid, "VmRSS") or 0) / 1024, 1)
        info["peak_rss_mib"] = round((proc_status_kib(server.pgid, "VmHWM") or 0) / 1024, 1)
    finally:
        info["stop_s"] = round(server.stop(), 2)
        info["exit_code"] = server.proc.returncode
    if "--no-log" not in extra:
        logged = logged_predictions(workspace, deployment)
        info["prediction_log"] = logged
        counted = info["metrics"]["requests_total"]
        info["prediction_log_complete"] = logged is not None and logged["requests"] == counted
        log(f"prediction log: {logged} (server counted {counted} requests)")
    return {"summary": summary, "runs": runs, "server": info}


def predict_call_timer(model: Any, frame: Any) -> Callable[[int], float]:
    """CPU ms of one predict_proba call on `rows` rows, as the server makes it (a float
    array, to a copy of the model without feature names), measured in this process."""
    bare = copy.copy(model)
    bare.__dict__.pop("feature_names_in_", None)
    arr = frame.to_numpy()
    known: dict[int, float] = {}

    def call_ms(rows: int) -> float:
        rows = max(1, rows)
        if rows not in known:
            fn = partial(bare.predict_proba, arr[:rows])
            known[rows] = time_call(fn, target_s=0.2, clock=time.process_time)["median_ms"]
        return known[rows]

    return call_ms


def batch_penalty(one: Any, several: Any, call_ms: Callable[[int], float]) -> float | None:
    """Extra predict CPU per request (ms) of the N-worker micro-batches over one worker's:
    each worker sees 1/N of the connections, so its batches are smaller and the fixed
    cost of a predict call is shared by fewer requests."""
    if not one or not several:
        return None
    b1, bn = float(one["median"]), float(several["median"])
    return round(call_ms(round(bn)) / bn - call_ms(round(b1)) / b1, 4)


def workers_bounds(
    summary: dict[str, Any], workers: int, call_ms: Callable[[int], float]
) -> dict[str, Any]:
    """Per config: the N-worker / 1-worker req/s ratio the measured CPU per request allows
    on this machine (see _roles.ratio_bounds), beside the measured ratio and the target.

    `bound_at_equal_cpu_but_smaller_batches` adds to the one-worker CPU per request only
    what the N workers' smaller micro-batches cost (`batch_penalty_ms_per_req`, from the
    measured rows per predict call and an in-process timing of predict calls): the most N
    workers can reach here with no other overhead at all."""
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {}
    for name, _, conc in CONFIGS:
        busy = min(workers, conc)  # one connection keeps one worker busy at most
        one, several = summary.get(name), summary.get(f"{name}_w{workers}")
        if one is None or several is None:
            continue
        measured = several["req_per_s"]["median"] / max(1e-9, one["req_per_s"]["median"])
        bounds = ratio_bounds(one["cpu_ms_per_req"], several["cpu_ms_per_req"], cores, busy)
        penalty = batch_penalty(
            one.get("rows_per_predict_call"), several.get("rows_per_predict_call"), call_ms
        )
        loop, total = one["cpu_ms_per_req"]["worker_loop"], one["cpu_ms_per_req"]["all_total"]
        if penalty is not None and loop > 0:
            bounds["rows_per_predict_call"] = {
                "1_worker": one["rows_per_predict_call"]["median"],
                "n_workers": several["rows_per_predict_call"]["median"],
            }
            bounds["batch_penalty_ms_per_req"] = penalty
            bounds["bound_at_equal_cpu_but_smaller_batches"] = ratio_bound(
                loop, loop + penalty, total + penalty, cores, busy
            )
        out[name] = {
            **bounds,
            "measured": round(measured, 2),
            "target": WORKERS_TARGET,
            "target_within_bound": _at_least(bounds["bound"], WORKERS_TARGET),
            "target_within_bound_at_equal_cpu": _at_least(
                bounds["bound_at_equal_cpu"], WORKERS_TARGET
            ),
            "target_within_bound_at_equal_cpu_but_smaller_batches": _at_least(
                bounds.get("bound_at_equal_cpu_but_smaller_batches"), WORKERS_TARGET
            ),
        }
    return out


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=15, help="seconds per load run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--unbatched", action="store_true", help="also serve with --batch-rows 0 (batching off)"
    )
    ap.add_argument("--workers", type=int, default=1, help="also serve with --workers N (N > 1)")
    ap.add_argument("--xgboost", action="store_true", help="also serve an XGBClassifier")
    ap.add_argument("--peers", action="store_true", help="run the peers in the same session")
    ap.add_argument("--peers-dir", type=Path, default=None, help="shared/bench/peers")
    ap.add_argument("--no-wrk", action="store_true", help="force the Python asyncio load generator")
    ap.add_argument(
        "--no-log",
        action="store_true",
        help="diagnostic: serve with --no-log (no prediction log; the benchmark keeps it on)",
    )
    ap.add_argument(
        "--configs",
        nargs="+",
        choices=[name for name, _, _ in CONFIGS],
        default=None,
        help="load only these configs (iteration; the benchmark runs all of them)",
    )
    ap.add_argument("--workdir", default=None, help="default /tmp/loopml-bench/serving-<pid>")
    ap.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    args = ap.parse_args()
    if args.reps < 1 or args.duration <= 0 or args.workers < 1:
        ap.error("--reps and --workers need at least 1, --duration a positive number of seconds")
    args.workdir = args.workdir or f"/tmp/loopml-bench/serving-{os.getpid()}"
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    noise = Noise()

    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    import loopml

    wrk = None if args.no_wrk else ensure_wrk()
    wrk_version = None
    if wrk:
        v = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        wrk_version = (v.stdout + v.stderr).splitlines()[0].strip()
    else:
        log("no wrk: using the Python asyncio load generator")

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    t0 = time.perf_counter()
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    train_s = time.perf_counter() - t0
    log(f"trained GBC in {train_s:.2f}s, train acc {model.score(X, y):.4f}")
    bodies = write_bodies(X, workdir)
    raw = {rows: path.read_bytes() for rows, path in bodies.items()}
    expected = {rows: model.predict(X.iloc[:rows]).tolist() for rows in bodies}
    xgb_model = xgb_expected = None
    if args.xgboost:
        import xgboost

        xgb_model = xgboost.XGBClassifier(n_estimators=100, random_state=0).fit(X, y)
        xgb_expected = {rows: xgb_model.predict(X.iloc[:rows]).tolist() for rows in bodies}

    # the ndarray timings feed a frame-fitted model a bare array, as loopml's server does:
    # silence sklearn's per-call "X does not have valid feature names" warning
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    inproc = {}
    for rows in (1, 100):
        frame = X.iloc[:rows]
        arr = frame.to_numpy()
        inproc[f"sklearn_predict_df_{rows}row"] = time_call(partial(model.predict, frame))
        inproc[f"sklearn_predict_numpy_{rows}row"] = time_call(partial(model.predict, arr))
    log("in-process: " + ", ".join(f"{k}={v['median_ms']}ms" for k, v in inproc.items()))

    workspace = Path(tempfile.mkdtemp(prefix="ws-", dir=workdir))
    log_args = ["--no-log"] if args.no_log else []
    # (deployment, extra serve arguments, suffix of its configs, model key)
    deployments: list[tuple[str, list[str], str, str]] = [(DEPLOYMENT, log_args, "", "gbc")]
    if args.unbatched:
        unbatched = [*log_args, "--batch-rows", "0"]
        deployments.append((DEPLOYMENT + "_unbatched", unbatched, "_unbatched", "gbc"))
    if args.workers > 1:
        several = [*log_args, "--workers", str(args.workers)]
        deployments.append((DEPLOYMENT + "_workers", several, f"_w{args.workers}", "gbc"))
    if xgb_model is not None:
        deployments.append((XGB_DEPLOYMENT, log_args, "_xgb", "xgb"))
    client = loopml.connect(workspace)
    uris: dict[str, str] = {}
    try:
        t0 = time.perf_counter()
        with client.start_run("serving", capture_code=False) as run:
            mv = run.log_model(model, name="breast_cancer_gbc", input_example=X)
            uris["gbc"] = mv.uri
            if xgb_model is not None:
                uris["xgb"] = run.log_model(
                    xgb_model, name="breast_cancer_xgb", input_example=X, artifact_path="xgb"
                ).uri
        log_model_s = time.perf_counter() - t0
        for name, _, _, key in deployments:
            # The measured model is never approved: the local admin overrides the traffic
            # policy (full traffic only for champion) with a reason the audit trail keeps.
            client.deployments.create(
                name, uris[key], override_reason="serving benchmark of an unapproved model"
            )
    finally:
        client.close()
    log(f"logged and registered {mv.uri} in {log_model_s:.2f}s; deployments created")

    result: dict[str, Any] = {
        "workload": "W2-serving",
        "tool": "loopml serve",
        "versions": {
            "loopml": loopml.__version__,
            "sklearn": sklearn.__version__,
            "uvicorn": version("uvicorn"),
            "starlette": version("starlette"),
            "orjson": version("orjson"),
            "numpy": version("numpy"),
            "pandas": version("pandas"),
            "python": sys.version.split()[0],
            "wrk": wrk_version,
            "loopml_source": str(Path(loopml.__file__ or "").parent),
        },
        "model": {
            "type": "GradientBoostingClassifier(n_estimators=100)",
            "data": "load_breast_cancer 569x30",
            "logged_with": "run.log_model(model, name=..., input_example=X) (signature: 30 "
            "named float columns)",
            "train_s": round(train_s, 3),
            "log_model_s": round(log_model_s, 2),
            "uri": mv.uri,
        },
        "request_bytes": {"1row": len(raw[1]), "100row": len(raw[100])},
        "load": {
            "duration_s": args.duration,
            "reps": args.reps,
            "path": "/invocations",
            "prediction_log": not args.no_log,
            "wrk_cmd": "wrk -t1 -c<conc> -d<duration>s --timeout 10s -s post.lua <url>"
            if wrk
            else None,
        },
        "inprocess": inproc,
        "summary": {},
        "runs": {},
        "servers": {},
    }
    try:
        for name, extra, suffix, key in deployments:
            wanted = expected if key == "gbc" else xgb_expected
            assert wanted is not None
            out = serve_and_load(args, wrk, workspace, name, extra, bodies, wanted, suffix)
            result["summary"].update(out["summary"])
            result["runs"].update(out["runs"])
            result["servers"][name] = out["server"]
        result["server"] = result["servers"][DEPLOYMENT]
        if args.workers > 1:
            call_ms = predict_call_timer(model, X)
            result["workers_ratio_bound"] = workers_bounds(result["summary"], args.workers, call_ms)
            for name, b in result["workers_ratio_bound"].items():
                log(
                    f"--workers {args.workers} / 1 worker, {name}: measured {b['measured']}x; "
                    f"bound {b['bound']}x as measured, {b['bound_at_equal_cpu']}x at one "
                    "worker's CPU per request, "
                    f"{b.get('bound_at_equal_cpu_but_smaller_batches')}x adding only the "
                    f"smaller batches ({b.get('batch_penalty_ms_per_req')} ms/req); "
                    f"load generator {b['load_generator_share']} of the CPU; "
                    f"target {b['target']}x"
                )
        if args.peers:
            peers_dir = args.peers_dir or default_peers_dir()
            xgb_version = version("xgboost") if args.xgboost else None
            seconds = max(1, round(args.duration))  # the peers take whole seconds
            commands = peer_commands(peers_dir, seconds, args.reps, args.no_wrk, xgb_version)
            result["peers"] = run_peers(commands, workdir)
            result["targets"] = targets(result["summary"], result["peers"], args.workers)
            for check in result["targets"]["checks"]:
                log(f"target {check['target']}: {check.get('ratio')} (met: {check['met']})")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    errors = sum(s["errors_total"] for s in result["summary"].values())
    result["errors_total"] = errors
    if errors:
        log(f"WARNING: {errors} failed or non-2xx requests")
    result["noise"] = noise.result()
    result["total_wall_s"] = noise.total_wall_s()
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    if "--_loadgen" in sys.argv:
        loadgen_main(json.loads(sys.argv[sys.argv.index("--_loadgen") + 1]))
    else:
        main()
