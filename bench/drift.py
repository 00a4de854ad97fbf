"""W3 - loopml's default drift check on the files of the Evidently peer benchmark.

Reads the Parquet files that shared/bench/peers/gen_data.py writes (default
/tmp/loopml-bench-data): w3_drift_reference_<size>.parquet and
w3_drift_current_<size>.parquet, 20 float columns num_00..num_19 and 5 string columns
cat_0..cat_4, 100k or 1M rows each. Each repetition of each size runs in a FRESH child
process (this script with --_child) that imports loopml (timed apart as `import_s`) and
then calls `check_drift(reference_path, current_path)` with the defaults; `total_s` runs
from the Parquet files to the finished result (reading included, import excluded).
`peak_rss_mib` is the child's own VmHWM from /proc/self/status, not ru_maxrss (a child
started with vfork+exec inherits its parent's peak as a floor).

If <data>/evidently_<size>_columns.json exists (written by
shared/bench/peers/evidently_drift.py), the result carries an "agreement" entry: the
same test, the same verdict on every column and for the dataset, and the largest relative
score difference. Progress goes to stderr; ONE JSON line goes to stdout, as the last line:

    {"results": {"100k": R, "1m": R}, ...}
    R = {"total_s", "import_s", "peak_rss_mib", "dataset_drift", "columns": [...], ...}

    .venv/bin/python bench/drift.py                       # 100k and 1m, 3 reps each
    .venv/bin/python bench/drift.py --sizes 1m --reps 1 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _benchlib import Noise, agg, busy_pct, cpu_snap, make_logger, others_pct, proc_status_kib

log = make_logger("loopml_drift")

SIZES = ("100k", "1m")
# Evidently reports a test by its display name; loopml by the name users pass.
EVIDENTLY_TESTS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


def paths(data: Path, size: str) -> tuple[Path, Path]:
    return (
        data / f"w3_drift_reference_{size}.parquet",
        data / f"w3_drift_current_{size}.parquet",
    )


def child(size: str, data: Path, workers: int | None) -> dict[str, Any]:
    """One measured run in this (fresh) process."""
    t0 = time.perf_counter()
    from loopml.monitoring import DriftOptions, check_drift

    import_s = time.perf_counter() - t0
    rss_import = proc_status_kib("VmRSS")
    ref, cur = paths(data, size)
    options = DriftOptions(workers=workers)
    c0, p0 = cpu_snap(), time.process_time()
    t = time.perf_counter()
    result = check_drift(ref, cur, options=options)
    total_s = time.perf_counter() - t
    cpu_s = time.process_time() - p0
    busy = busy_pct(c0, cpu_snap())
    peak = proc_status_kib("VmHWM")
    return {
        "size": size,
        "rows": result.reference_rows,
        "total_s": round(total_s, 3),
        "import_s": round(import_s, 3),
        "cpu_s": round(cpu_s, 3),
        "peak_rss_mib": round(peak / 1024, 1) if peak else None,
        "rss_after_import_mib": round(rss_import / 1024, 1) if rss_import else None,
        "machine_busy_pct": busy,
        "others_busy_pct": others_pct(busy, cpu_s, total_s),
        "dataset_drift": result.dataset_drift,
        "status": result.status,
        "columns": [
            {
                "column": c.column,
                "test": c.test,
                "score": c.statistic,
                "threshold": c.threshold,
                "drift": c.drift,
            }
            for c in result.columns
        ],
    }


def run_child(size: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", size, "--data", str(args.data)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.timeout)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def agreement(data: Path, size: str, ours: dict[str, Any]) -> dict[str, Any] | None:
    path = data / f"evidently_{size}_columns.json"
    if not path.exists():
        return None
    peer = json.loads(path.read_text())
    theirs = {c["column"]: c for c in peer["columns"]}
    mine = {c["column"]: c for c in ours["columns"]}
    common = sorted(set(theirs) & set(mine))
    diffs = [
        abs(mine[c]["score"] - theirs[c]["score"]) / max(abs(theirs[c]["score"]), 1e-12)
        for c in common
    ]
    return {
        "source": str(path),
        "evidently_version": peer.get("version"),
        "columns": len(common),
        "missing_columns": sorted(set(theirs) ^ set(mine)),
        "test_mismatches": [
            c for c in common if EVIDENTLY_TESTS.get(theirs[c]["test"]) != mine[c]["test"]
        ],
        "verdict_mismatches": [c for c in common if theirs[c]["drift"] != mine[c]["drift"]],
        "same_verdict_every_column": all(theirs[c]["drift"] == mine[c]["drift"] for c in common),
        "max_rel_score_diff": max(diffs) if diffs else None,
        "dataset_verdict_equal": peer.get("dataset_drift") == ours["dataset_drift"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/loopml-bench-data"))
    parser.add_argument("--sizes", default="100k,1m", help="comma list of 100k,1m")
    parser.add_argument("--reps", type=int, default=3, help="fresh processes per size (median)")
    parser.add_argument("--workers", type=int, default=None, help="columns tested at once")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._child:
        print(json.dumps(child(args._child, args.data, args.workers)), flush=True)
        return

    noise = Noise()
    sizes = [s for s in args.sizes.split(",") if s]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        parser.error(f"unknown sizes {bad}; use {', '.join(SIZES)}")
    missing = [str(p) for s in sizes for p in paths(args.data, s) if not p.exists()]
    if missing:
        parser.error(
            f"missing input files {missing}: run python3 ../shared/bench/peers/gen_data.py "
            f"--out {args.data} --only w3"
        )
    results: dict[str, Any] = {}
    for size in sizes:
        reps = []
        for rep in range(args.reps):
            r = run_child(size, args)
            log(
                f"{size} rep {rep + 1}/{args.reps}: total_s={r['total_s']} "
                f"peak_rss={r['peak_rss_mib']} MiB cpu={r['cpu_s']}s "
                f"(others busy {r['others_busy_pct']}%)"
            )
            reps.append(r)
        first = reps[0]
        verdicts = {json.dumps([c["drift"] for c in r["columns"]]) for r in reps}
        results[size] = {
            "total_s": round(statistics.median(r["total_s"] for r in reps), 3),
            "import_s": round(statistics.median(r["import_s"] for r in reps), 3),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in reps),
            "rows_each": first["rows"],
            "dataset_drift": first["dataset_drift"],
            "status": first["status"],
            "summary": {
                k: agg(r[k] for r in reps)
                for k in ("total_s", "import_s", "cpu_s", "peak_rss_mib", "others_busy_pct")
            },
            "verdicts_identical_across_reps": len(verdicts) == 1,
            "agreement": agreement(args.data, size, first),
            "columns": first["columns"],
        }
    print(
        json.dumps(
            {
                "workload": "W3-drift",
                "tool": "loopml",
                "method": "fresh child process per repetition; total_s = check_drift(parquet "
                "paths) with the defaults, import excluded (import_s); peak RSS = the child's "
                "VmHWM",
                "workers": args.workers,
                "reps": args.reps,
                "results": results,
                "noise": noise.result(),
                "total_wall_s": noise.total_wall_s(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
