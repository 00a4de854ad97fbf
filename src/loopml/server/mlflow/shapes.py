"""loopml records as the JSON documents of MLflow's protobuf messages (Run, RunInfo,
Experiment, Metric), field names as MLflow's `message_to_json` writes them."""

from __future__ import annotations

from typing import Any

from loopml.server.mlflow.ids import artifact_uri, to_ms
from loopml.tracking.records import RunRecord
from loopml.tracking.series import MetricHistory

PARENT_TAG = "mlflow.parentRunId"
NAME_TAG = "mlflow.runName"


def run_info(run: RunRecord, experiment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": experiment_id,
        "user_id": run.created_by,
        "status": run.status,
        "start_time": to_ms(run.start_time),
        "artifact_uri": artifact_uri(experiment_id, run.id),
        "lifecycle_stage": "active" if run.deleted_at is None else "deleted",
    }
    if run.end_time is not None:
        info["end_time"] = to_ms(run.end_time)
    return info


def run(run: RunRecord, experiment_id: str) -> dict[str, Any]:
    """A Run: its info, latest metric values, params and tags (the parent as MLflow's
    `mlflow.parentRunId` tag, the name as `mlflow.runName`), with what `mlflow server`
    answers and nothing more: the client turns every field into an object, which is most
    of what a search costs it. So no `mlflow.user` tag unless the client set one (the
    author is the info's `user_id`, which MLflow's web app falls back to)."""
    stamp = to_ms(run.end_time if run.end_time is not None else run.start_time)
    tags = dict(run.tags)
    tags.setdefault(NAME_TAG, run.name)
    if run.parent_id is not None:
        tags.setdefault(PARENT_TAG, run.parent_id)
    return {
        "info": run_info(run, experiment_id),
        "data": {
            "metrics": [
                {"key": k, "value": v, "timestamp": stamp, "step": 0}
                for k, v in run.metrics.items()
            ],
            "params": [{"key": k, "value": v} for k, v in run.params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        "inputs": {},
        "outputs": {},
    }


def experiment(found: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
    created = to_ms(found.get("created_at"))
    return {
        "experiment_id": found["id"],
        "name": found["name"],
        "artifact_location": f"mlflow-artifacts:/{found['id']}",
        "lifecycle_stage": "active",
        "creation_time": created,
        "last_update_time": created,
        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
    }


def history(key: str, points: MetricHistory) -> list[dict[str, Any]]:
    return [
        {"key": key, "value": p.value, "timestamp": to_ms(p.timestamp), "step": p.step}
        for p in points
    ]
