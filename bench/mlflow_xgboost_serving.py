#!/usr/bin/env python3
"""W2 peer, XGBoost: `mlflow models serve` of an XGBClassifier, loaded like mlflow_serving.py.

Self-contained: run with any python3 >= 3.10. Creates/reuses the venv
/tmp/peer-venvs/mlflow-xgboost (override with PEER_VENV_MLFLOW_XGB) holding the MLflow and
scikit-learn of the MLflow peer plus xgboost (`--xgboost-version`, default the one
bench/serving.py passes: loopml's own), re-executes itself in it, and prints ONE JSON line
on stdout as its last line.

It reuses the peer's helpers (shared/bench/peers/mlflow_serving.py: server start/stop, wrk
load, summaries), so the load is the very same:
  1. trains XGBClassifier(n_estimators=100, random_state=0) on load_breast_cancer (as a
     DataFrame), the model bench/serving.py --xgboost serves with loopml
  2. logs it with mlflow.xgboost.log_model (sqlite tracking store under --workdir)
  3. serves it with `mlflow models serve --env-manager local --workers 1` and checks its
     predictions for the 100-row body
  4. loads /invocations with 1row_c1, 1row_c16 and 100row_c4 (--duration s, --reps times)

    python3 bench/mlflow_xgboost_serving.py --peers ../shared/bench/peers --duration 15 --reps 3
"""

import json
import os
import subprocess
import sys

VENV = os.environ.get("PEER_VENV_MLFLOW_XGB", "/tmp/peer-venvs/mlflow-xgboost")
PINS = {"mlflow": "3.17.2", "scikit-learn": "1.9.1"}


def _arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def _bootstrap():
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    xgb_version = _arg("--xgboost-version", "3.2.0")
    peers = os.path.abspath(_arg("--peers", "../shared/bench/peers"))
    py = os.path.join(VENV, "bin", "python")
    check = (
        "import sys, mlflow, sklearn, xgboost; sys.exit(0 if (mlflow.__version__, "
        f"sklearn.__version__, xgboost.__version__) == ({PINS['mlflow']!r}, "
        f"{PINS['scikit-learn']!r}, {xgb_version!r}) else 1)"
    )
    ok = (
        os.path.exists(py)
        and subprocess.call([py, "-c", check], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        == 0
    )
    if not ok:
        print(f"[bootstrap] creating venv {VENV} (pip install, ~2 min)", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        cmd = [py, "-m", "pip", "install", "-q", f"xgboost=={xgb_version}"]
        cmd += [f"{k}=={v}" for k, v in PINS.items()]
        lock = os.path.join(peers, "mlflow-venv.lock.txt")
        if os.path.exists(lock):
            cmd += ["-c", lock]
        subprocess.check_call(cmd, stdout=sys.stderr)
    os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__" and "--_loadgen" not in sys.argv:
    _bootstrap()

import argparse  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--peers", default="../shared/bench/peers", help="the peer scripts' folder")
    ap.add_argument("--xgboost-version", default="3.2.0")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.peers))
    import mlflow_serving as peer  # the peer's helpers: the same load, the same summaries

    workdir = args.workdir or f"/tmp/peerbench/mlflow-xgboost-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    t_start = time.perf_counter()
    load0, c_all0 = os.getloadavg(), peer.cpu_snap()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow
    import xgboost
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer

    wrk = None if args.no_wrk else peer.ensure_wrk()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    t0 = time.perf_counter()
    model = xgboost.XGBClassifier(n_estimators=100, random_state=0).fit(X, y)
    train_s = time.perf_counter() - t0
    uri = f"sqlite:///{workdir}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("serving", artifact_location=os.path.join(workdir, "artifacts"))
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.xgboost.log_model(
            model,
            name="model",
            input_example=X.iloc[:2],
            signature=infer_signature(X, model.predict(X)),
        )
    bodies = peer.write_bodies(X, workdir)
    with open(bodies[100], "rb") as f:
        body_100 = f.read()
    expected = model.predict(X.iloc[:100]).tolist()

    port = peer.free_port()
    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=uri,
        PATH=os.path.join(sys.prefix, "bin") + os.pathsep + os.environ.get("PATH", ""),
    )
    cmd = [os.path.join(sys.prefix, "bin", "mlflow"), "models", "serve", "-m", info.model_uri]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    proc, logf, startup_s = peer.start_server(
        cmd, env, workdir, f"http://127.0.0.1:{port}/ping", os.path.join(workdir, "serve.log")
    )
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        req = urllib.request.Request(
            url, data=body_100, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            served = json.loads(r.read())["predictions"]
        assert served == expected, "served predictions differ"
        summary, runs = peer.run_matrix(wrk, url, bodies, args.reps, args.duration, proc.pid)
    finally:
        peer.stop_server(proc, logf)
    result = {
        "workload": "W2-serving-xgboost",
        "tool": "mlflow models serve",
        "versions": {"mlflow": mlflow.__version__, "xgboost": xgboost.__version__},
        "model": {
            "type": "XGBClassifier(n_estimators=100, random_state=0)",
            "data": "load_breast_cancer 569x30",
            "train_s": round(train_s, 3),
            "uri": info.model_uri,
        },
        "server": {"cmd": " ".join(cmd), "startup_to_ping_s": round(startup_s, 2)},
        "load": {"duration_s": args.duration, "reps": args.reps},
        "summary": summary,
        "runs": runs,
        "noise": {
            "loadavg_start": [round(x, 2) for x in load0],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "machine_busy_pct_whole_run": peer.busy_pct(c_all0, peer.cpu_snap()),
        },
        "total_wall_s": round(time.perf_counter() - t_start, 1),
    }
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
