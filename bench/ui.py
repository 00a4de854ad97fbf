"""UI - server time of the web UI's pages over a large SQLite workspace.

A fresh workspace is built through the bulk paths of scale.py (--runs runs of 5 params
and 5 metrics, and one run of 10 metrics x --steps steps), then the real app is driven
in-process (httpx over ASGITransport: the server's time, no network) by a signed-in
viewer:

  runs_page_*    GET /ui/runs: 100 rows, the filter FILTER, 5 metric columns, sorted by
                 metrics.m1 DESC; the first page and the --pages - 1 pages after it
  run_page_*     GET /ui/runs/<id> of the 10-metric run (each chart downsampled on the
                 server to MAX_POINTS points)
  compare_page_* GET /ui/compare of that run and two small ones
  max_page_bytes the largest HTML answer among every page measured (also home, models,
                 audit, data, monitors, pipelines)

Progress goes to stderr; the last stdout line is JSON
{"runs_page_p95_ms": ..., "run_page_p95_ms": ..., "max_page_bytes": ..., ...}.

    .venv/bin/python bench/ui.py --runs 100000 --steps 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _benchlib import make_logger
from scale import EXPERIMENT, FILTER, ORDER, Loader, build_history, build_runs

import loopml
from loopml.config.settings import load_settings
from loopml.server.app import create_app
from loopml.server.bootstrap import server_principal
from loopml.server.ui.charts import MAX_POINTS
from loopml.store.principal import FixedActor

log = make_logger("ui")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEXT = re.compile(r'href="(\?[^"]*page=[^"]+)" rel="next"')


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _summary(name: str, seconds: list[float]) -> dict[str, float]:
    ms = sorted(1000 * s for s in seconds)
    return {
        f"{name}_median_ms": round(ms[len(ms) // 2], 1),
        f"{name}_p95_ms": round(_p95(ms), 1),
    }


def build(root: Path, runs: int, steps: int) -> tuple[str, list[str], str]:
    """The workspace: bulk runs, the history run, a viewer token. Returns (history run,
    two small runs, token)."""
    client = loopml.connect(root)
    client.stores.identity = FixedActor(server_principal())
    loader = Loader(client)
    try:
        build_runs(client, loader, runs, random.Random(7))
        history = build_history(client, loader, steps)
    finally:
        loader.close()
    small = [r.id for r in client.search_runs(EXPERIMENT, FILTER, max_results=2)]
    client.models.identity.create_principal("bench-viewer", "viewer")
    token = client.models.identity.create_token("bench-viewer", label="bench/ui.py")
    client.close()
    return history, small, token


async def measure(root: Path, history: str, small: list[str], token: str, args: Any) -> dict:
    app = create_app(load_settings(root))
    sizes: list[int] = []

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://ui.bench") as http:
            form = await http.get("/ui/login")
            csrf = CSRF.search(form.text)
            assert csrf is not None
            signed = await http.post("/ui/login", data={"csrf": csrf.group(1), "token": token})
            assert signed.status_code == 303, signed.text

            async def timed(url: str, params: dict[str, str] | None = None) -> tuple[float, str]:
                started = time.perf_counter()
                answer = await http.get(url, params=params)
                elapsed = time.perf_counter() - started
                assert answer.status_code == 200, (url, answer.status_code, answer.text[-500:])
                sizes.append(len(answer.content))
                return elapsed, answer.text

            query = {
                "experiment": EXPERIMENT,
                "filter": FILTER,
                "order": ORDER,
                "metrics": "m0,m1,m2,m3,m4",
                "params": "p0,p1",
                "size": "100",
            }
            first, later = [], []
            for rep in range(args.reps):
                elapsed, text = await timed("/ui/runs", query)
                first.append(elapsed)
                assert text.count('<tr data-run="') == 100
                for _ in range(args.pages - 1):
                    found = NEXT.search(text)
                    if found is None:
                        break
                    link = found.group(1).replace("&amp;", "&")
                    elapsed, text = await timed("/ui/runs" + link)
                    later.append(elapsed)
                log(f"  runs page rep {rep + 1}/{args.reps}: first {1000 * first[-1]:.0f} ms")
            run_times = []
            for _ in range(args.reps):
                elapsed, text = await timed(f"/ui/runs/{history}")
                run_times.append(elapsed)
                assert text.count("data-chart") == 10
            log(f"  run page median {1000 * sorted(run_times)[len(run_times) // 2]:.0f} ms")
            compare = []
            for _ in range(args.reps):
                elapsed, _text = await timed(
                    "/ui/compare",
                    {"run": [history, *small]},  # type: ignore[dict-item]
                )
                compare.append(elapsed)
            for page in (
                "/ui/",
                "/ui/models",
                "/ui/audit",
                "/ui/data",
                "/ui/monitors",
                "/ui/pipelines",
            ):
                await timed(page)
    return {
        **_summary("runs_page", first + later),
        **_summary("runs_page_first", first),
        **_summary("run_page", run_times),
        **_summary("compare_page", compare),
        "max_page_bytes": max(sizes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-ui-", dir=args.workdir))
    try:
        log(f"building {args.runs:,} runs and a run of 10 x {args.steps:,} points in {root}")
        started = time.perf_counter()
        history, small, token = build(root, args.runs, args.steps)
        log(f"  built in {time.perf_counter() - started:.0f} s")
        results = asyncio.run(measure(root, history, small, token, args))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.update(
        runs=args.runs, steps=args.steps, reps=args.reps, max_points=MAX_POINTS, backend="sqlite"
    )
    log(json.dumps(results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
