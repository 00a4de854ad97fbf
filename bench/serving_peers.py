"""The peers of bench/serving.py, run in the same session, and the targets checked against them.

Each peer is a separate script printing one JSON line: `mlflow models serve` of the same
GradientBoostingClassifier (shared/bench/peers/mlflow_serving.py), the bare FastAPI apps
of the machine's practical limit (limit_serving.py, DataFrame and ndarray variants), and,
with --xgboost, `mlflow models serve` of the same XGBClassifier (mlflow_xgboost_serving.py
beside this file). They run one after the other, never beside loopml's server.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from _benchlib import make_logger

log = make_logger("loopml_serving")
HERE = Path(__file__).resolve().parent


def default_peers_dir() -> Path:
    return Path(os.environ.get("PEERS", HERE.parent.parent / "shared" / "bench" / "peers"))


def peer_commands(
    peers: Path, duration: int, reps: int, no_wrk: bool, xgboost_version: str | None
) -> dict[str, list[str]]:
    """The peer runs, by name: plain `python3` (each makes and reuses its own venv)."""
    common = ["--duration", str(duration), "--reps", str(reps), *(["--no-wrk"] if no_wrk else [])]
    runs = {
        "mlflow": ["python3", str(peers / "mlflow_serving.py"), *common],
        "limit_dataframe": ["python3", str(peers / "limit_serving.py"), "--variant", "pandas"],
        "limit_ndarray": ["python3", str(peers / "limit_serving.py"), "--variant", "numpy"],
    }
    runs["limit_dataframe"] += common
    runs["limit_ndarray"] += common
    if xgboost_version is not None:
        runs["mlflow_xgboost"] = [
            "python3",
            str(HERE / "mlflow_xgboost_serving.py"),
            "--peers",
            str(peers),
            "--xgboost-version",
            xgboost_version,
            *common,
        ]
    return runs


def run_peers(commands: dict[str, list[str]], workdir: Path) -> dict[str, Any]:
    """Each peer's summary (or its error), one after the other."""
    out: dict[str, Any] = {}
    for name, cmd in commands.items():
        log(f"peer {name}: {' '.join(cmd)} (load {os.getloadavg()[0]:.2f})")
        errors = workdir / f"peer_{name}.log"
        with open(errors, "w") as stderr:
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = errors.read_text()[-2000:]
            log(f"peer {name} failed (exit {done.returncode}): {tail}")
            out[name] = {"error": f"exit {done.returncode}", "log_tail": tail}
            continue
        data = json.loads(lines[-1])
        out[name] = {k: data.get(k) for k in ("tool", "versions", "server", "summary", "noise")}
    return out


def _median(summary: dict[str, Any] | None, config: str, figure: str) -> float | None:
    try:
        value = (summary or {})[config][figure]["median"]
    except (KeyError, TypeError):
        return None
    return float(value) if value is not None else None


def targets(ours: dict[str, Any], peers: dict[str, Any], workers: int) -> dict[str, Any]:
    """Issue #18's targets: each with the two figures, the ratio and whether it is met."""

    def check(name: str, mine: float | None, theirs: float | None, want: float, higher: bool):
        if mine is None or theirs is None or theirs == 0:
            return {"target": name, "met": None, "ours": mine, "reference": theirs}
        ratio = mine / theirs
        met = ratio >= want if higher else ratio <= want
        return {
            "target": name,
            "ours": mine,
            "reference": theirs,
            "ratio": round(ratio, 3),
            "wanted": want,
            "met": met,
        }

    peer = {name: data.get("summary") for name, data in peers.items()}
    found = [
        check(
            "1row_c16 req/s >= bare ndarray app",
            _median(ours, "1row_c16", "req_per_s"),
            _median(peer.get("limit_ndarray"), "1row_c16", "req_per_s"),
            1.0,
            True,
        ),
        check(
            "100row_c4 req/s >= 1.5x bare DataFrame app",
            _median(ours, "100row_c4", "req_per_s"),
            _median(peer.get("limit_dataframe"), "100row_c4", "req_per_s"),
            1.5,
            True,
        ),
        check(
            "1row_c16 p99 <= 1/10 of MLflow's",
            _median(ours, "1row_c16", "lat_p99_ms"),
            _median(peer.get("mlflow"), "1row_c16", "lat_p99_ms"),
            0.1,
            False,
        ),
    ]
    if workers > 1:
        found.append(
            check(
                f"--workers {workers}: 1row_c16 req/s >= 1.7x one worker",
                _median(ours, f"1row_c16_w{workers}", "req_per_s"),
                _median(ours, "1row_c16", "req_per_s"),
                1.7,
                True,
            )
        )
    if "mlflow_xgboost" in peer:
        for config in ("1row_c16", "100row_c4"):
            found.append(
                check(
                    f"XGBoost {config} req/s vs MLflow serving the same model",
                    _median(ours, f"{config}_xgb", "req_per_s"),
                    _median(peer.get("mlflow_xgboost"), config, "req_per_s"),
                    1.0,
                    True,
                )
            )
    return {"checks": found, "all_met": all(c["met"] for c in found)}
