"""The stock MLflow client's tracking workload against `loopml server`, beside `mlflow server`.

Starts a `loopml server` on a fresh workspace and runs the peer script
`shared/bench/peers/mlflow_tracking.py --backend http --server-url URL` against it: the same
client (mlflow 3.17.2 in the peer's venv) and workload that measure `mlflow server`, with
MLFLOW_TRACKING_TOKEN set to the server's admin token. The last stdout line is that
script's JSON; with `--peer` the same script also runs against `mlflow server` (one after
the other, never beside each other), and the line gains `peer` (its JSON) and `ratios`
(loopml over MLflow for throughputs, MLflow over loopml for times: > 1 is loopml faster).

    python bench/mlflow_compat.py --peer                # parts a, b, c on both servers
    python bench/mlflow_compat.py --parts a --points 500
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from _benchlib import make_logger
from _server import BenchServer

log = make_logger("mlflow_compat")
HERE = Path(__file__).resolve().parent
PEERS = Path(os.environ.get("PEERS", HERE.parent.parent / "shared" / "bench" / "peers"))


def run_peer(extra: list[str], token: str | None) -> dict[str, Any]:
    """One run of the peer script; its last stdout line, parsed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOOPML_"))}
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    command = ["python3", str(PEERS / "mlflow_tracking.py"), "--backend", "http", *extra]
    log("running", " ".join(command))
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the peer script failed ({done.returncode}): {done.stdout[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _median(result: dict[str, Any], part: str, field: str) -> float | None:
    summary = result.get("results", {}).get(part, {}).get("summary", {})
    value = summary.get(field)
    return None if value is None else float(value["median"])


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, float | None]:
    """> 1: loopml is faster (throughputs ours/peer, times peer/ours)."""
    found: dict[str, float | None] = {}
    for part, field, higher_is_better in (
        ("a", "points_per_s", True),
        ("b", "points_per_s", True),
        ("c", "create_1000_runs_s_est", False),
        ("c", "search_client_s_median", False),
    ):
        mine, theirs = _median(ours, part, field), _median(peer, part, field)
        key = f"{part}.{field}"
        if mine is None or theirs is None or not mine or not theirs:
            found[key] = None
        else:
            found[key] = round(mine / theirs if higher_is_better else theirs / mine, 2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="loopml server workers")
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--points", type=int, default=None, help="part a points (peer default)")
    parser.add_argument("--runs", type=int, default=1000, help="part c runs")
    parser.add_argument("--peer", action="store_true", help="also run against `mlflow server`")
    args = parser.parse_args()
    extra = ["--parts", args.parts, "--runs", str(args.runs)]
    if args.points is not None:
        extra += ["--points", str(args.points)]
    with tempfile.TemporaryDirectory(prefix="mlflow-compat-") as tmp:
        server = BenchServer(Path(tmp) / "workspace", args.workers).start()
        try:
            ours = run_peer([*extra, "--server-url", server.url], server.token)
        finally:
            server.stop()
    ours["loopml_server"] = {"workers": args.workers, "store": "sqlite"}
    log("loopml:", json.dumps(ours))
    if args.peer:
        try:
            peer = run_peer(extra, None)
        except SystemExit as failed:  # keep loopml's figures; say why the peer has none
            ours["peer_error"] = str(failed)
        else:
            ours["peer"] = peer
            ours["ratios"] = ratios(ours, peer)
            log("ratios (> 1: loopml faster):", ours["ratios"])
    print(json.dumps(ours))


if __name__ == "__main__":
    main()
