"""How much of a filtered MLflow search the stock client spends turning the answer into
objects, against `loopml server` and against `mlflow server`.

Part c of the peer script times `MlflowClient.search_runs(...)` as a whole. Most of that,
on a fast server, is the client itself: it parses the JSON answer into protobuf messages
(`ParseDict`, pure Python field by field) and those into `Run` objects. That cost depends
on what the answer holds, not on who answered it, so it bounds the ratio any server can
reach: `mlflow server`'s search time over the client's own parse time is what a server
that answered in no time at all would get.

This script starts each server in turn (never side by side) on a fresh store, fills an
experiment as part c does and runs bench/_mlflow_search_client.py in the peer's venv
(PEER_VENV_MLFLOW, default /tmp/peer-venvs/mlflow, made by the peer script) against it.
The last stdout line is JSON: each server's figures (answer size and shape, parse CPU step
by step, the whole search's wall and client CPU), and `bound`:

* `parse_cpu_ratio`: loopml's answer's parse CPU over MLflow's (1.0: the answers cost the
  client the same);
* `search_ratio`: MLflow's search wall over loopml's (what part c reports);
* `search_ratio_cap`: MLflow's search wall over the client's CPU for loopml's answer: the
  ratio if loopml's server took no time at all.

    python bench/mlflow_search_parse.py                 # 200 runs (about 50 match)
    python bench/mlflow_search_parse.py --runs 1000 --reps 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _benchlib import make_logger
from _mlflow_server import mlflow_server as peer_mlflow_server
from _server import BenchServer

log = make_logger("mlflow_search_parse")
HERE = Path(__file__).resolve().parent
CLIENT = HERE / "_mlflow_search_client.py"
VENV = Path(os.environ.get("PEER_VENV_MLFLOW", "/tmp/peer-venvs/mlflow"))


def client_figures(url: str, token: str | None, runs: int, reps: int) -> dict[str, Any]:
    """The stock client's figures against the server at `url` (its JSON line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOOPML_"))}
    command = [str(VENV / "bin" / "python"), str(CLIENT), "--url", url]
    command += ["--runs", str(runs), "--reps", str(reps)]
    if token:
        command += ["--token", token]
    log("running the stock client against", url)
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the client script failed ({done.returncode})")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """`mlflow server` as the peer script starts it (SQLite, MLflow's default workers)."""
    extra = ["--default-artifact-root", str(folder / "artifacts")]
    with peer_mlflow_server(VENV / "bin" / "mlflow", folder, extra) as server:
        yield server.url


def bound(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, float]:
    mine, theirs = ours["search_runs_wall_ms"]["median"], peer["search_runs_wall_ms"]["median"]
    parse_mine = ours["client_parse_cpu_ms"]["whole"]["min"]
    parse_theirs = peer["client_parse_cpu_ms"]["whole"]["min"]
    client_cpu = ours["search_runs_client_cpu_ms"]["min"]
    return {
        "parse_cpu_ratio": round(parse_mine / parse_theirs, 3),
        "search_ratio": round(theirs / mine, 2),
        "search_ratio_cap": round(theirs / client_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs in the experiment")
    parser.add_argument("--reps", type=int, default=20, help="timed repetitions of each step")
    parser.add_argument("--workers", type=int, default=1, help="loopml server workers")
    args = parser.parse_args()
    if not (VENV / "bin" / "python").exists():
        raise SystemExit(
            f"no peer venv at {VENV}: run `python3 ../shared/bench/peers/mlflow_tracking.py "
            "--help` once to make it (or set PEER_VENV_MLFLOW)"
        )
    with tempfile.TemporaryDirectory(prefix="mlflow-search-parse-") as tmp:
        server = BenchServer(Path(tmp) / "workspace", args.workers).start()
        try:
            ours = client_figures(server.url, server.token, args.runs, args.reps)
        finally:
            server.stop()
        peer_folder = Path(tmp) / "mlflow"
        peer_folder.mkdir()
        with mlflow_server(peer_folder) as url:
            peer = client_figures(url, None, args.runs, args.reps)
    result = {"loopml": ours, "mlflow": peer, "bound": bound(ours, peer)}
    log("bound:", result["bound"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
