"""The stock MLflow client's side of bench/streaming.py's peer: one large artifact up and
down through `mlflow server`'s artifact proxy. Runs in the MLflow venv (stdlib and `mlflow`
only), with MLFLOW_TRACKING_URI set to the server.

It talks to its parent in JSON lines so that the parent samples memory around each
transfer only, not around importing MLflow: it prints `{"ready": "upload"}` once a run
exists, waits for a line on stdin, times `mlflow.log_artifact(source)` and prints
`{"phase": "upload", "seconds": ...}` (or `"error"`); then `{"ready": "download"}`, a line
on stdin, `MlflowClient().download_artifacts(run_id, name, dst)` timed the same way.

    python _mlflow_artifact_client.py SOURCE DEST_FOLDER
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
from mlflow import MlflowClient


def say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def timed(phase: str, action: Callable[[], Any]) -> bool:
    """Wait for the parent's go, run `action`, report its wall time or its failure."""
    say({"ready": phase})
    sys.stdin.readline()
    t0 = time.perf_counter()
    try:
        action()
    except Exception as exc:  # the parent records it; a failed upload skips the download
        seconds = time.perf_counter() - t0
        lines = traceback.format_exception_only(type(exc), exc)
        say({"phase": phase, "seconds": round(seconds, 3), "error": "".join(lines)[-2000:]})
        return False
    say({"phase": phase, "seconds": round(time.perf_counter() - t0, 3)})
    return True


def main() -> None:
    source, dest = sys.argv[1], sys.argv[2]
    name = os.path.basename(source)
    mlflow.set_experiment("streaming")
    run = mlflow.start_run()
    say({"mlflow": mlflow.__version__, "run_id": run.info.run_id, "uri": run.info.artifact_uri})
    uploaded = timed("upload", lambda: mlflow.log_artifact(source))
    mlflow.end_run()
    if uploaded:
        client = MlflowClient()
        timed("download", lambda: client.download_artifacts(run.info.run_id, name, dest))
    say({"done": True})


if __name__ == "__main__":
    main()
