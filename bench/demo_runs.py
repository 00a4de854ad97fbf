"""Run the demo N times and report how each run ended, as JSON.

    python bench/demo_runs.py                 # 20 runs
    python bench/demo_runs.py --runs 5 --load # with a CPU burner on the other core

Each run is `examples/demo.py` in a fresh temporary workspace, as a separate process; the
demo checks its own end state (rollout promoted, champion = what the deployment serves) and
writes it to a result file. `--load` starts busy-loop processes for the whole benchmark, so
the demo competes for CPU as on a loaded machine; the burners are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.py"
BURN = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="how many demo runs (20)")
    parser.add_argument(
        "--load", action="store_true", help="burn CPU in other processes while the demo runs"
    )
    parser.add_argument(
        "--burners", type=int, default=1, help="busy-loop processes with --load (1)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run (1800)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.burners < 1:
        parser.error("--runs and --burners must be at least 1")

    burners = [start_burner() for _ in range(args.burners)] if args.load else []
    outcomes = []
    try:
        for number in range(1, args.runs + 1):
            outcome = run_demo(number, args.timeout)
            outcomes.append(outcome)
            print(json.dumps({"run": number, **outcome}), file=sys.stderr, flush=True)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(json.dumps(summary(outcomes, args), indent=2))
    return 0 if all(o["promoted"] for o in outcomes) else 1


def start_burner() -> subprocess.Popen[bytes]:
    """A process that keeps one core busy (pinned to the last core where the OS allows)."""
    burner = subprocess.Popen([sys.executable, "-c", BURN])
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) > 1:
        os.sched_setaffinity(burner.pid, {cores[-1]})
    return burner


def run_demo(number: int, timeout: float) -> dict[str, Any]:
    """One demo process in its own workspace: exit code, wall time, and its end state."""
    with tempfile.TemporaryDirectory(prefix=f"loopml-demo-{number}-") as folder:
        result = Path(folder) / "result.json"
        command = [
            sys.executable,
            str(DEMO),
            "--workspace",
            str(Path(folder) / "ws"),
            "--result",
            str(result),
        ]
        env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
        began = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, env=env, check=False
            )
            code: int | None = done.returncode
            tail = (done.stdout + done.stderr)[-1500:]
        except subprocess.TimeoutExpired as exc:
            code, tail = None, f"timed out after {timeout:g} s: {exc}"
        seconds = time.perf_counter() - began
        state = json.loads(result.read_text()) if result.exists() else {}
    promoted = code == 0 and state.get("ok") is True and state.get("rollout") == "promoted"
    return {
        "exit_code": code,
        "promoted": promoted,
        "rollout": state.get("rollout"),
        "seconds": round(seconds, 2),
        "canary_requests": state.get("canary_requests"),
        "canary_s": state.get("canary_s"),
        "champion": state.get("champion"),
        "routes": state.get("routes"),
        "problems": state.get("problems", []),
        "output_tail": None if promoted else tail,
    }


def summary(outcomes: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    seconds = [o["seconds"] for o in outcomes]
    requests = [o["canary_requests"] for o in outcomes if o["canary_requests"] is not None]
    return {
        "benchmark": "demo_runs",
        "runs": len(outcomes),
        "promoted": sum(o["promoted"] for o in outcomes),
        "failed": sum(not o["promoted"] for o in outcomes),
        "exit_codes": [o["exit_code"] for o in outcomes],
        "load": {"burners": args.burners if args.load else 0},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "seconds": {
            "min": min(seconds),
            "median": statistics.median(seconds),
            "max": max(seconds),
        },
        "canary_requests": {
            "min": min(requests, default=None),
            "median": statistics.median(requests) if requests else None,
            "max": max(requests, default=None),
        },
        "failures": [
            {k: o[k] for k in ("exit_code", "rollout", "problems", "output_tail")}
            for o in outcomes
            if not o["promoted"]
        ],
        "per_run": [
            {k: o[k] for k in ("promoted", "seconds", "canary_requests", "canary_s")}
            for o in outcomes
        ],
    }


if __name__ == "__main__":
    sys.exit(main())
