#!/usr/bin/env bash
# Run the peers' and loopml's W1 (tracking), W5 (artifacts) and W3 (drift) benchmarks one after the
# other, never two at once, keeping each JSON line in $RESULTS/<name>.json and its stderr
# in $RESULTS/<name>.log; then print the comparison (bench/compare.py).
#
#   bash bench/run_all.sh                       # ~6 min once the peer venvs exist
#   ONLY="loopml_tracking loopml_artifacts" bash bench/run_all.sh
#   BENCH_LOOPML_SRC=/tmp/loopml-snap/src bash bench/run_all.sh   # benchmark another loopml tree
#
# Before each benchmark it waits up to QUIET_WAIT s (default 300) for the machine to be
# under QUIET_BUSY % busy (default 20) over 5 s, then starts anyway (as the peers'
# mlflow_run_all.sh does); the noise each one saw is in its JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
RESULTS=${RESULTS:-/tmp/benchresults}
DATA=${DATA:-/tmp/loopml-bench-data/w5_random_1GiB.bin}
QUIET_WAIT=${QUIET_WAIT:-300}
QUIET_BUSY=${QUIET_BUSY:-20}
PY=$ROOT/.venv/bin/python
ALL="mlflow_a mlflow_bc loopml_tracking dvc loopml_artifacts evidently_drift loopml_drift"
ONLY=${ONLY:-$ALL}
mkdir -p "$RESULTS"
if [ -n "${BENCH_LOOPML_SRC:-}" ]; then
    export PYTHONPATH="$BENCH_LOOPML_SRC${PYTHONPATH:+:$PYTHONPATH}"
fi

busy_pct() {  # machine CPU busy % over 5 s
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep 5
    read -r -a b < <(head -1 /proc/stat)
    local tot=0 i
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    local idle=$((b[4] - a[4] + b[5] - a[5]))
    echo $((tot > 0 ? 100 * (tot - idle) / tot : 0))
}

wait_quiet() {
    local waited=0 busy
    while :; do
        busy=$(busy_pct)
        waited=$((waited + 5))
        if [ "$busy" -lt "$QUIET_BUSY" ] || [ "$waited" -ge "$QUIET_WAIT" ]; then
            echo "[run_all] machine ${busy}% busy after ${waited}s of waiting" >&2
            return
        fi
    done
}

run() {  # name, command...
    local name=$1
    shift
    case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
    wait_quiet
    echo "[run_all] $name: $* (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    local start=$SECONDS
    "$@" > "$RESULTS/$name.out" 2> "$RESULTS/$name.log"
    tail -n 1 "$RESULTS/$name.out" > "$RESULTS/$name.json"
    rm -f "$RESULTS/$name.out"
    echo "[run_all] $name done in $((SECONDS - start)) s -> $RESULTS/$name.json" >&2
}

"$PY" - "$RESULTS/session.json" <<'PYEOF'
import json, os, subprocess, sys, time
import loopml
def git(*args):
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None
info = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loopml_source": os.path.dirname(loopml.__file__),
        "bench_loopml_src": os.environ.get("BENCH_LOOPML_SRC"),
        "repo_head": git("rev-parse", "HEAD"),
        "repo_src_changes": (git("status", "--porcelain", "src") or "").splitlines(),
        "loadavg": os.getloadavg()}
with open(sys.argv[1], "w") as f:
    json.dump(info, f)
PYEOF
if [ ! -f "$DATA" ]; then
    python3 "$PEERS/gen_data.py" --only w5 >&2
fi
run mlflow_a python3 "$PEERS/mlflow_tracking.py" --backend sqlite --parts a
run mlflow_bc python3 "$PEERS/mlflow_tracking.py" --backend sqlite --parts b,c --reps 1
run loopml_tracking "$PY" bench/tracking.py
run dvc python3 "$PEERS/dvc_hash.py" --file "$DATA" --parts dvc --reps 3
run loopml_artifacts "$PY" bench/artifacts.py "$DATA"
case " $ONLY " in *drift*)
    python3 "$PEERS/gen_data.py" --only w3 >&2 ;;  # keeps files that exist
esac
run evidently_drift python3 "$PEERS/evidently_drift.py" --sizes 100k,1m --reps 1 --parts evidently,limit
run loopml_drift "$PY" bench/drift.py --sizes 100k,1m --reps 3
"$PY" bench/compare.py "$RESULTS"
if [ -f "$RESULTS/loopml_drift.json" ] && [ -f "$RESULTS/evidently_drift.json" ]; then
    "$PY" bench/compare_drift.py "$RESULTS"
fi
