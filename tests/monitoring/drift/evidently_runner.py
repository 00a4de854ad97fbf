"""Evidently's drift verdicts on Parquet files, as JSON: the other side of the agreement tests.

Runs with the Python of the Evidently environment (`.venv-evidently`, pandas 2), never with
loopml's. One job compares a reference and a current file with
`Report([DataDriftPreset(...)])` and a `DataDefinition` naming the numerical and
categorical columns, and writes per column the test, score, threshold and verdict, and the
dataset verdict.

    python evidently_runner.py ref.parquet cur.parquet out.json [--spec spec.json]
    python evidently_runner.py --batch jobs.json out.json

A spec (or each job of a batch) may hold "numerical", "categorical" (column lists; by
default numbers are numerical and everything else categorical), "per_column_method"
(column -> Evidently test name) and "drift_share"; a batch job also has "reference" and
"current" paths. The batch output is a list of results in job order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

# Evidently reports a test by its display name once it has chosen it; loopml uses the names.
TEST_NAMES = {
    "K-S p_value": "ks",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "PSI": "psi",
}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    reference = pd.read_parquet(job["reference"])
    current = pd.read_parquet(job["current"])
    numerical = job.get("numerical")
    categorical = job.get("categorical")
    if numerical is None:
        numerical = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])]
        numerical = [c for c in numerical if not pd.api.types.is_bool_dtype(reference[c])]
    if categorical is None:
        categorical = [c for c in reference.columns if c not in numerical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    preset = DataDriftPreset(
        columns=[*numerical, *categorical],
        per_column_method=job.get("per_column_method") or None,
        drift_share=job.get("drift_share", 0.5),
    )
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    return _extract(snapshot.dict(), numerical)


def _extract(report: dict[str, Any], numerical: list[str]) -> dict[str, Any]:
    tests: dict[str, list[dict[str, Any]]] = {}
    for test in report.get("tests", []):
        bound = test.get("bound_test") or {}
        key = bound.get("metric_fingerprint") or (test.get("metric_config") or {}).get("metric_id")
        tests.setdefault(key, []).append(test)
    columns = []
    dataset: dict[str, Any] = {}
    for metric in report["metrics"]:
        config = metric["config"]
        status = next((t["status"] for t in tests.get(metric["id"], [])), None)
        if config["type"].endswith(":ValueDrift"):
            method = config.get("method")
            columns.append(
                {
                    "column": config["column"],
                    "kind": "numerical" if config["column"] in numerical else "categorical",
                    "test": TEST_NAMES.get(method, method),
                    "score": float(metric["value"]),
                    "threshold": config.get("threshold"),
                    "drift": status not in (None, "SUCCESS"),
                }
            )
        elif config["type"].endswith(":DriftedColumnsCount"):
            dataset = {
                "drifted": int(metric["value"]["count"]),
                "share": float(metric["value"]["share"]),
                "dataset_drift": status not in (None, "SUCCESS"),
            }
    return {"columns": columns, **dataset}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="ref.parquet cur.parquet out.json, or out.json")
    parser.add_argument("--spec", help="JSON file: numerical, categorical, per_column_method")
    parser.add_argument("--batch", help="JSON file: a list of jobs")
    args = parser.parse_args()
    if args.batch:
        with open(args.batch) as f:
            jobs = json.load(f)
        result: Any = [run_job(job) for job in jobs]
        (out,) = args.paths
    else:
        ref, cur, out = args.paths
        spec = {}
        if args.spec:
            with open(args.spec) as f:
                spec = json.load(f)
        result = run_job({**spec, "reference": ref, "current": cur})
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
