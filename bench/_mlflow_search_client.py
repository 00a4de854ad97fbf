"""The stock MLflow client's side of a filtered run search, run inside the peer's venv
(stdlib and `mlflow` only; bench/mlflow_search_parse.py starts it against each server).

Fills a new experiment as the peer script's part c does (create_run, log_batch of 5 params
and 5 metrics, set_terminated), then, for the search "metrics.m0 > 0.5 and params.p0 = 'x'":

* the raw answer (one HTTP request with the body the client sends): its size, runs, and
  what one run holds (info fields, tags), to compare the servers' answers field by field;
* the client's own CPU to turn that answer into objects, step by step, as
  `RestStore._search_runs` does it: `json.loads`, protobuf `ParseDict`, `Run.from_proto`;
* `MlflowClient.search_runs` whole: wall time and the client's CPU time (median, min).

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import urllib.request
from collections.abc import Callable
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run
from mlflow.protos.service_pb2 import SearchRuns
from mlflow.utils.proto_json_utils import parse_dict

FILTER = "metrics.m0 > 0.5 and params.p0 = 'x'"


def fill(client: MlflowClient, runs: int) -> str:
    """An experiment of `runs` runs made as the peer script's part c makes them."""
    experiment_id = client.create_experiment(f"search-parse-{time.time_ns()}")
    rng = random.Random(1000)
    for i in range(runs):
        run_id = client.create_run(experiment_id).info.run_id
        stamp = int(time.time() * 1000)
        params = [Param("p0", "x" if i % 2 == 0 else "y")] + [
            Param(f"p{k}", f"v{rng.randrange(1000)}") for k in range(1, 5)
        ]
        metrics = [Metric(f"m{k}", rng.random(), stamp, 0) for k in range(5)]
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id)
    return str(experiment_id)


def raw_answer(url: str, token: str | None, experiment_id: str) -> bytes:
    body = {
        "experiment_ids": [experiment_id],
        "filter": FILTER,
        "run_view_type": "ACTIVE_ONLY",
        "max_results": 1000,
    }
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url + "/api/2.0/mlflow/runs/search", json.dumps(body).encode(), headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        data: bytes = answer.read()
    return data


def timed(step: Callable[[], Any], reps: int, clock: Callable[[], float]) -> dict[str, float]:
    """Median and min milliseconds of `step` on `clock` (process_time: the client's CPU)."""
    found = []
    for _ in range(reps):
        start = clock()
        step()
        found.append(1000 * (clock() - start))
    return {"median": round(statistics.median(found), 3), "min": round(min(found), 3)}


def shape(answer: dict[str, Any]) -> dict[str, Any]:
    """What one run of the answer holds, to compare the two servers' answers."""
    runs = answer.get("runs", [])
    first = runs[0] if runs else {}
    data = first.get("data", {})
    return {
        "run_fields": sorted(first),
        "info_fields": sorted(first.get("info", {})),
        "tag_keys": sorted(t["key"] for t in data.get("tags", [])),
        "entries_per_run": sum(len(data.get(k, [])) for k in ("metrics", "params", "tags")),
        "next_page_token": answer.get("next_page_token"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    if args.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = args.token
    client = MlflowClient(tracking_uri=args.url)
    experiment_id = fill(client, args.runs)
    raw = raw_answer(args.url, args.token, experiment_id)
    text = raw.decode()
    answer = json.loads(text)
    proto = SearchRuns.Response()
    parse_dict(json.loads(text), proto)

    def parse() -> None:
        message = SearchRuns.Response()
        parse_dict(json.loads(text), message)
        [Run.from_proto(r) for r in message.runs]

    def search() -> None:
        client.search_runs([experiment_id], filter_string=FILTER, max_results=1000)

    search()  # warm: connection, caches
    cpu = time.process_time

    def parse_only() -> None:
        parse_dict(json.loads(text), SearchRuns.Response())

    def objects_only() -> None:
        [Run.from_proto(r) for r in proto.runs]

    result = {
        "runs_in_experiment": args.runs,
        "matches": len(answer.get("runs", [])),
        "answer_bytes": len(raw),
        **shape(answer),
        "client_parse_cpu_ms": {
            "json_loads": timed(lambda: json.loads(text), args.reps, cpu),
            "parse_dict": timed(parse_only, args.reps, cpu),
            "run_from_proto": timed(objects_only, args.reps, cpu),
            "whole": timed(parse, args.reps, cpu),
        },
        "search_runs_client_cpu_ms": timed(search, args.reps, cpu),
        "search_runs_wall_ms": timed(search, args.reps, time.perf_counter),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
