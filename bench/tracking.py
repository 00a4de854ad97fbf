"""W1 - loopml tracking ingest, the same workloads as the MLflow peer benchmark.

Mirrors shared/bench/peers/mlflow_tracking.py (parts a, b, c; the same payloads, the same
`results.<part>.summary` keys) with loopml in-process on a fresh SQLite workspace per
repetition (`loopml.connect(<temp dir>)`; opening it, i.e. the schema migrations, is not
timed). Progress goes to stderr; ONE JSON line goes to stdout, as the last line.

Parts (--parts, comma separated; default a,b,c)
  a   one run: 20 x run.log_param, then 10 metrics x (points/10) steps, one
      run.log_metric(key, value, step=step) per point. The clock runs from the first
      log_metric until the run's `with` block has exited, so every point is in the
      store (not only in the journal) when it stops. metric_history checks every point.
  b   --batch-points points via run.log_batch(metrics=[(key, value, step), ...]) in calls
      of 1,000, timed including the end of the run (the final flush); checked. The MLflow
      peer times its log_batch calls only (set_terminated is outside its clock): the
      summary's `calls_points_per_s` is that figure, like for like.
  c   --runs runs in one experiment, each `with client.start_run(exp) as run:
      run.log_batch(params=5 (p0 = 'x' for even i, 'y' for odd), metrics=m0..m4)`; then
      --search-reps timings of client.search_runs(exp, filter="metrics.m0 > 0.5 and
      params.p0 = 'x'", max_results=1000), checked against the count computed from a full
      listing, of the same search plus `.to_pandas()`, and of an unfiltered search.
      start_run keeps its default capture_code=True (git commit + diff of the current
      folder and the installed packages, captured once per process; see `warmup_run_s`).
  c_nocapture  (extra) part c with start_run(..., capture_code=False).

--server runs the same parts through a real `loopml server` on 127.0.0.1 (a new server on a
new workspace per repetition, started untimed; --server-workers N worker processes) with
the SDK in remote mode (`loopml.connect(url, token=...)`), as the MLflow peer's
`--backend http` does; the JSON is the same, with "backend": "http".

    .venv/bin/python bench/tracking.py                    # a, b, c; ~15 s
    .venv/bin/python bench/tracking.py --parts c --reps 5
    .venv/bin/python bench/tracking.py --server           # through loopml server
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _benchlib import Noise, Phase, agg, make_logger
from _server import remote_client

import loopml

log = make_logger("loopml_tracking")

N_METRICS = 10
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"


def fresh_client(args: argparse.Namespace, tag: str) -> Any:
    """A new, empty workspace (migrated, untimed) under the work dir; with --server, a
    remote client of a new server on it."""
    root = Path(tempfile.mkdtemp(prefix=f"ws-{tag}-", dir=args.workdir))
    if args.server:
        args.settings = args.settings or {}
        return remote_client(root, args.server_workers, args.settings)
    client = loopml.connect(root)
    if args.settings is None and isinstance(client, loopml.Client):  # a folder: local mode
        s = client.settings
        args.settings = {
            "metric_flush_points": s.metric_flush_points,
            "metric_flush_interval_s": s.metric_flush_interval_s,
            "store_url": s.store_url,
            "artifacts_fsync": s.artifacts_fsync,
        }
    return client


def verify_history(client: Any, run_id: str, expected: dict[str, list[float]], steps: int) -> int:
    """Every key holds exactly `steps` points, steps 0..steps-1 with the logged values."""
    checked = 0
    for key, values in expected.items():
        history = client.metric_history(run_id, key)
        assert len(history) == steps, (key, len(history), steps)
        assert [p.step for p in history] == list(range(steps)), key
        assert [p.value for p in history] == values, key
        checked += len(history)
    return checked


# ------------------------------------------------------------------ part a
def part_a(args: argparse.Namespace, rep: int) -> dict[str, Any]:
    client = fresh_client(args, f"a{rep}")
    rng = random.Random(rep)
    steps = args.points // N_METRICS
    points = steps * N_METRICS
    block = max(1, points // 10)
    expected: dict[str, list[float]] = {f"m{m}": [] for m in range(N_METRICS)}
    block_s: list[float] = []
    try:
        metrics_phase = Phase()
        with client.start_run(f"a-{rep}") as run:
            run.log_param("warmup", "1")  # first-call costs untimed, as in the peer script
            with Phase() as params_phase:
                for i in range(20):
                    run.log_param(f"p{i}", f"value-{i}")
            n = 0
            metrics_phase.start()
            tb = metrics_phase.t0
            for step in range(steps):
                for m in range(N_METRICS):
                    value = rng.random()
                    run.log_metric(f"m{m}", value, step=step)
                    expected[f"m{m}"].append(value)
                    n += 1
                    if n % block == 0:
                        now = time.perf_counter()
                        block_s.append(now - tb)
                        tb = now
            loop_s = time.perf_counter() - metrics_phase.t0
        metrics_phase.stop()  # the run has ended: every point is in the store
        checked = verify_history(client, run.id, expected, steps)
        params = client.get_run(run.id).params
        assert all(params[f"p{i}"] == f"value-{i}" for i in range(20))
    finally:
        client.close()
    wall = metrics_phase.wall
    per_call_ms = [1000 * s / block for s in block_s]
    return {
        "points": points,
        "points_verified": checked,
        "params_20_s": round(params_phase.wall, 4),
        "params_per_call_ms": round(1000 * params_phase.wall / 20, 3),
        "metrics_s": round(wall, 4),
        "points_per_s": round(points / wall, 1),
        "log_calls_s": round(loop_s, 4),
        "end_run_flush_s": round(wall - loop_s, 4),
        "per_call_ms_by_block": [round(x, 4) for x in per_call_ms],
        "est_10k_points_s": round(wall * 10000 / points, 4),
        "metrics_phase": metrics_phase.info(),
    }


# ------------------------------------------------------------------ part b
def part_b(args: argparse.Namespace, rep: int) -> dict[str, Any]:
    client = fresh_client(args, f"b{rep}")
    rng = random.Random(rep)
    steps = args.batch_points // N_METRICS
    points = [(f"m{m}", rng.random(), step) for step in range(steps) for m in range(N_METRICS)]
    chunks = [points[i : i + 1000] for i in range(0, len(points), 1000)]
    call_s: list[float] = []
    try:
        phase = Phase()
        with client.start_run(f"b-{rep}") as run:
            run.log_param("warmup", "1")
            phase.start()
            for chunk in chunks:
                t0 = time.perf_counter()
                run.log_batch(metrics=chunk)
                call_s.append(time.perf_counter() - t0)
            calls_s = time.perf_counter() - phase.t0
        phase.stop()
        expected: dict[str, list[float]] = {f"m{m}": [] for m in range(N_METRICS)}
        for key, value, _ in points:
            expected[key].append(value)
        checked = verify_history(client, run.id, expected, steps)
    finally:
        client.close()
    return {
        "points": len(points),
        "points_verified": checked,
        "calls": len(chunks),
        "seconds": round(phase.wall, 4),
        "points_per_s": round(len(points) / phase.wall, 1),
        "log_batch_calls_s": round(calls_s, 4),
        "calls_points_per_s": round(len(points) / calls_s, 1),
        "end_run_flush_s": round(phase.wall - calls_s, 4),
        "per_call_ms": agg([1000 * x for x in call_s], 3),
        "phase": phase.info(),
    }


# ------------------------------------------------------------------ part c
def run_payload(i: int, rng: random.Random) -> tuple[dict[str, str], list[tuple[str, float, int]]]:
    params = {"p0": "x" if i % 2 == 0 else "y"}
    params.update({f"p{k}": f"v{rng.randrange(1000)}" for k in range(1, 5)})
    metrics = [(f"m{k}", rng.random(), 0) for k in range(5)]
    return params, metrics


def timed_searches(reps: int, fn: Callable[[], int], expected: int | None) -> list[float]:
    seconds = []
    for _ in range(reps):
        with Phase() as phase:
            found = fn()
        seconds.append(phase.wall)
        if expected is not None:
            assert found == expected, (found, expected)
    return seconds


def part_c(args: argparse.Namespace, rep: int, capture: bool = True) -> dict[str, Any]:
    client = fresh_client(args, f"c{rep}")
    rng = random.Random(1000 + rep)
    experiment = f"c-{rep}"
    n = args.runs
    try:
        # Untimed warm-up in another experiment: connection, statement caches, and the
        # per-process capture of git state and installed packages (when capture is on).
        t0 = time.perf_counter()
        with client.start_run("c-warmup", capture_code=capture) as run:
            run.log_batch(params={"w": "1"}, metrics=[("w", 0.0, 0)])
        warmup_s = time.perf_counter() - t0
        if args.server:  # like the peer's create_experiment
            client.create_experiment(experiment)
        else:
            client.tracking.experiment_id(experiment)
        with Phase() as create:
            for i in range(n):
                params, metrics = run_payload(i, rng)
                with client.start_run(experiment, capture_code=capture) as run:
                    run.log_batch(params=params, metrics=metrics)
        listing = client.search_runs(experiment, max_results=min(max(n, 1), 50_000))
        assert len(listing) == n, (len(listing), n)
        assert all(r.status == "FINISHED" for r in listing)
        expected = sum(1 for r in listing if r.metrics["m0"] > 0.5 and r.params["p0"] == "x")

        def search() -> int:
            return len(client.search_runs(experiment, filter=SEARCH_FILTER, max_results=1000))

        def search_pandas() -> int:
            frame = client.search_runs(
                experiment, filter=SEARCH_FILTER, max_results=1000
            ).to_pandas()
            return len(frame)

        def search_all() -> int:
            return len(client.search_runs(experiment, max_results=1000))

        search_s = timed_searches(args.search_reps, search, expected)
        pandas_s = timed_searches(args.search_reps, search_pandas, expected)
        all_s = timed_searches(args.search_reps, search_all, min(n, 1000))
    finally:
        client.close()
    return {
        "runs_total": n,
        "runs_created_timed": n,
        "capture_code": capture,
        "warmup_run_s": round(warmup_s, 4),
        "create_s": round(create.wall, 4),
        "create_runs_per_s": round(n / create.wall, 1),
        "create_per_run_ms": round(1000 * create.wall / n, 3),
        "create_1000_runs_s_est": round(create.wall * 1000 / n, 4),
        "create_phase": create.info(),
        "search_filter": SEARCH_FILTER,
        "search_matches": expected,
        "search_client_s": agg(search_s, 5),
        "search_pandas_s": agg(pandas_s, 5),
        "search_all_runs_s": agg(all_s, 5),
    }


# ------------------------------------------------------------------ main
PARTS: dict[str, Callable[[argparse.Namespace, int], dict[str, Any]]] = {
    "a": part_a,
    "b": part_b,
    "c": part_c,
    "c_nocapture": lambda args, rep: part_c(args, rep, capture=False),
}


def summarize(part: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    if part == "a":
        return {
            "metrics_s": agg([r["metrics_s"] for r in runs], 4),
            "points_per_s": agg([r["points_per_s"] for r in runs], 1),
            "params_20_s": agg([r["params_20_s"] for r in runs]),
            "est_10k_points_s": agg([r["est_10k_points_s"] for r in runs], 4),
        }
    if part == "b":
        return {
            "seconds": agg([r["seconds"] for r in runs]),
            "points_per_s": agg([r["points_per_s"] for r in runs], 1),
            "calls_points_per_s": agg([r["calls_points_per_s"] for r in runs], 1),
        }
    return {
        "create_s": agg([r["create_s"] for r in runs], 4),
        "create_1000_runs_s_est": agg([r["create_1000_runs_s_est"] for r in runs], 4),
        "search_client_s_median": agg([r["search_client_s"]["median"] for r in runs], 5),
    }


def loopml_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("LOOPML_")}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--parts", default="a,b,c", help="comma list of a,b,c,c_nocapture")
    ap.add_argument("--points", type=int, default=10000, help="points for part a")
    ap.add_argument("--batch-points", type=int, default=10000, help="points for part b")
    ap.add_argument("--runs", type=int, default=1000, help="runs in the experiment, part c")
    ap.add_argument("--reps", type=int, default=3, help="repetitions for parts a and c")
    ap.add_argument("--batch-reps", type=int, default=3, help="repetitions for part b")
    ap.add_argument("--search-reps", type=int, default=5)
    ap.add_argument("--workdir", default=None, help="default /tmp/loopml-bench/tracking-<pid>")
    ap.add_argument("--keep", action="store_true", help="keep the workspaces afterwards")
    ap.add_argument("--server", action="store_true", help="through a real loopml server")
    ap.add_argument("--server-workers", type=int, default=1, help="its worker processes")
    args = ap.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {unknown}; known: {sorted(PARTS)}")
    if args.points < N_METRICS or args.batch_points < N_METRICS or args.runs < 1:
        ap.error("--points and --batch-points need at least 10, --runs at least 1")
    args.workdir = args.workdir or f"/tmp/loopml-bench/tracking-{os.getpid()}"
    os.makedirs(args.workdir, exist_ok=True)
    args.settings = None

    noise = Noise()
    result: dict[str, Any] = {
        "workload": "W1-tracking",
        "tool": "loopml",
        "backend": "http" if args.server else "sqlite",
        "versions": {
            "loopml": loopml.__version__,
            "sqlalchemy": version("sqlalchemy"),
            "sqlite": sqlite3.sqlite_version,
            "python": sys.version.split()[0],
            "loopml_source": str(Path(loopml.__file__ or "").parent),
        },
        "config": {
            "parts": parts,
            "points_a": args.points,
            "batch_points": args.batch_points,
            "runs_c": args.runs,
            "reps": args.reps,
            "batch_reps": args.batch_reps,
            "search_reps": args.search_reps,
            "workspace": f"{args.workdir}/ws-<part><rep>-* (loopml.connect on a new folder "
            "per repetition; migrations untimed)",
            "cwd_for_code_capture": os.getcwd(),
            "loopml_env": loopml_env(),
        },
        "results": {},
    }
    try:
        for part in parts:
            reps = args.batch_reps if part == "b" else args.reps
            runs = []
            for rep in range(reps):
                log(f"part {part} rep {rep + 1}/{reps} ...")
                t0 = time.perf_counter()
                r = PARTS[part](args, rep)
                log(f"part {part} rep {rep + 1}: done in {time.perf_counter() - t0:.2f}s")
                runs.append(r)
            result["results"][part] = {"summary": summarize(part, runs), "reps": runs}
        result["config"]["settings"] = args.settings
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    result["noise"] = noise.result()
    result["total_wall_s"] = noise.total_wall_s()
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
