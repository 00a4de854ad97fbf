"""Diagnostic: where do the long pauses of a micro-batching server come from?

Serves the benchmark's model (GradientBoostingClassifier, breast cancer, 30 columns) with
micro-batching from a server in this process, loads it from a separate process (the
asyncio keep-alive client of bench/serving.py) and records, on the server side:

* every garbage collection (generation, duration) through `gc.callbacks`;
* event-loop lag: how late a task that sleeps 1 ms wakes up;
* every micro-batch: rows, longest queue wait, model call time.

It then lists the loop stalls above --stall-ms and what overlapped each one (a collection,
a slow model call, or nothing found). Prints one JSON line.

    .venv/bin/python bench/batching_stalls.py --duration 10
    .venv/bin/python bench/batching_stalls.py --duration 10 --freeze   # gc.freeze() at start
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class Recorder:
    """Timestamps (perf_counter) of collections, loop lags and batches."""

    def __init__(self) -> None:
        self.gc: list[tuple[float, float, int, int]] = []  # start, end, generation, collected
        self.lags: list[tuple[float, float]] = []  # when, lag seconds
        self.batches: list[tuple[float, float, int, float]] = []  # start, end, rows, max wait
        self._gc_start = 0.0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        else:
            self.gc.append((self._gc_start, now, info["generation"], info["collected"]))


async def watch_loop(recorder: Recorder, stop: threading.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        recorder.lags.append((before, time.perf_counter() - before - 0.001))


def overlapping(start: float, end: float, spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--stall-ms", type=float, default=50)
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() once the server is up")
    ap.add_argument("--no-log", action="store_true")
    args = ap.parse_args()

    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    import loopml
    from loopml.serving import BatchingConfig, create_app
    from loopml.serving.background import serve_in_background
    from loopml.serving.batching import MicroBatcher

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    recorder = Recorder()
    original_run = MicroBatcher._run

    async def timed_run(self: MicroBatcher, rows: list[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await original_run(self, rows)
        finally:
            recorder.batches.append((started, time.perf_counter(), len(rows), 0.0))

    MicroBatcher._run = timed_run  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="loopml-stalls-") as tmp:
        client = loopml.connect(tmp)
        with client.start_run("stalls", capture_code=False) as run:
            version = run.log_model(model, name="gbc", input_example=X)
        client.deployments.create("gbc", version.uri)
        body = Path(tmp) / "body.json"
        split = {"columns": list(X.columns), "data": X.iloc[:1].values.tolist()}
        body.write_text(json.dumps({"dataframe_split": split}))
        app = create_app(
            client,
            ["gbc"],
            batching=BatchingConfig(max_rows=32, max_wait_ms=1),
            auth="open",
            log_predictions=not args.no_log,
        )
        stop = threading.Event()
        with serve_in_background(app) as url:
            if args.freeze:
                gc.collect()
                gc.freeze()
            server_loop = _server_loop(app)
            if server_loop is not None:
                asyncio.run_coroutine_threadsafe(watch_loop(recorder, stop), server_loop)
            gc.callbacks.append(recorder.on_gc)
            spec = {
                "url": f"{url}/invocations",
                "body": str(body),
                "conc": args.concurrency,
                "duration": args.duration,
            }
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, str(HERE / "serving.py"), "--_loadgen", json.dumps(spec)],
                capture_output=True,
                text=True,
                check=True,
            )
            t1 = time.perf_counter()
            gc.callbacks.remove(recorder.on_gc)
            stop.set()
        client.close()
    load = json.loads(out.stdout.strip().splitlines()[-1].split(" ", 1)[1])
    print(json.dumps(report(recorder, load, t0, t1, args)), flush=True)


def _server_loop(app: Any) -> asyncio.AbstractEventLoop | None:
    """The running loop of the uvicorn thread (the only running loop in this process)."""
    running = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    return next((loop for loop in running if loop.is_running()), None)


def report(
    recorder: Recorder, load: dict[str, Any], t0: float, t1: float, args: argparse.Namespace
) -> dict[str, Any]:
    gcs = [g for g in recorder.gc if t0 <= g[0] <= t1]
    spans = [(a, b) for a, b, _, _ in gcs]
    threshold = args.stall_ms / 1000
    stalls = [(when, lag) for when, lag in recorder.lags if lag >= threshold and t0 <= when <= t1]
    explained = []
    for when, lag in stalls:
        in_gc = overlapping(when, when + lag + 0.001, spans)
        slow_calls = [
            b - a for a, b, _, _ in recorder.batches if a < when + lag and b > when and b - a > 0.02
        ]
        explained.append(
            {
                "lag_ms": round(lag * 1000, 1),
                "gc_ms": round(in_gc * 1000, 1),
                "gc_generations": sorted({g for a, b, g, _ in gcs if a < when + lag and b > when}),
                "slow_model_call_ms": round(max(slow_calls, default=0) * 1000, 1),
            }
        )
    by_gen: dict[int, list[float]] = {}
    for a, b, g, _ in gcs:
        by_gen.setdefault(g, []).append(b - a)
    calls = [b - a for a, b, _, _ in recorder.batches if t0 <= a <= t1]
    rows = [r for a, _, r, _ in recorder.batches if t0 <= a <= t1]
    return {
        "diagnostic": "batching_stalls",
        "freeze": args.freeze,
        "prediction_log": not args.no_log,
        "loadavg": os.getloadavg(),
        "requests": load["requests"],
        "req_per_s": round(load["requests"] / (load["duration_us"] / 1e6), 1),
        "client_p50_ms": load["lat_p50_us"] / 1000,
        "client_p99_ms": load["lat_p99_us"] / 1000,
        "client_max_ms": load["lat_max_us"] / 1000,
        "gc": {
            str(g): {
                "count": len(v),
                "total_ms": round(sum(v) * 1000, 1),
                "max_ms": round(max(v) * 1000, 1),
            }
            for g, v in sorted(by_gen.items())
        },
        "gc_tracked_objects": len(gc.get_objects()),
        "batches": len(calls),
        "mean_rows_per_batch": round(sum(rows) / max(1, len(rows)), 2),
        "model_call_max_ms": round(max(calls, default=0) * 1000, 1),
        "loop_lag_samples": len(recorder.lags),
        "stalls": explained,
    }


if __name__ == "__main__":
    main()
