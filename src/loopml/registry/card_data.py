"""Assemble everything known about a version into the dict model cards render."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from loopml.data import DatasetService
from loopml.registry.approvals import ApprovalService
from loopml.registry.lineage import lineage
from loopml.registry.records import ModelVersion
from loopml.registry.service import RegistryService
from loopml.store.schema import dataset_versions, model_evaluations
from loopml.tracking import TrackingService

USER_FIELDS = ("description", "intended_use", "out_of_scope", "owners", "limitations")


def card_data(
    registry: RegistryService,
    tracking: TrackingService,
    datasets: DatasetService,
    approvals: ApprovalService,
    ref: str | ModelVersion,
) -> dict[str, Any]:
    version = registry.get_version(ref)
    chain = lineage(registry, tracking, datasets, version)
    user = version.card
    training = []
    for node in chain["datasets"]:
        if node.get("missing"):
            continue
        data = datasets.get(node["uri"].removeprefix("dataset:"))
        training.append(
            {
                "uri": data.uri,
                "role": node["role"],
                "rows": data.row_count,
                "columns": len(data.schema),
                "time_column": data.time_column,
                "profile": data.profile,
            }
        )
    with registry.engine.connect() as conn:
        rows = conn.execute(
            select(
                model_evaluations.c.result,
                model_evaluations.c.kind,
                dataset_versions.c.name,
                dataset_versions.c.version,
            )
            .join(dataset_versions, dataset_versions.c.id == model_evaluations.c.dataset_version_id)
            .where(model_evaluations.c.model_version_id == version.id)
            .order_by(model_evaluations.c.created_at)
        ).all()
    latest_per_dataset = {f"dataset:{r.name}@{r.version}": r.result["metrics"] for r in rows}
    evaluations = [{"dataset": uri, "metrics": m} for uri, m in latest_per_dataset.items()]
    fairness = next((r.result["fairness"] for r in reversed(rows) if "fairness" in r.result), None)
    requests = approvals.list(version.model, version=version.version)
    run = chain["run"] or {}
    env = chain["environment"] or {}
    code = chain["code"] or {}
    return {
        "model": {
            "name": version.model,
            "version": version.version,
            "uri": version.uri,
            "flavor": version.flavor,
            "created_by": version.created_by,
            "created_at": version.created_at,
            "state": version.state,
            "aliases": version.aliases,
        },
        "overview": {
            "description": user.get("description") or version.description,
            "intended_use": user.get("intended_use"),
            "out_of_scope": user.get("out_of_scope"),
            "owners": user.get("owners"),
        },
        "training_data": training,
        "metrics": version.metrics,
        "evaluations": evaluations,
        "fairness": fairness,
        "lineage": {
            "run": run.get("uri"),
            "experiment": run.get("experiment"),
            "git_commit": code.get("git_commit"),
            "dirty": code.get("dirty"),
            "python": env.get("python"),
            "packages": env.get("packages"),
            "datasets": [n["uri"] for n in chain["datasets"]],
        },
        "approvals": [
            {
                "id": r.id,
                "alias": r.alias,
                "status": r.status,
                "requester": r.requester,
                "reason": r.reason,
                "outcome": r.outcome,
                "checks": r.checks,
                "decisions": [
                    {
                        "principal": d.principal,
                        "decision": d.decision,
                        "comment": d.comment,
                        "at": d.decided_at,
                    }
                    for d in r.decisions
                ],
            }
            for r in requests
        ],
        "limitations": list(user.get("limitations") or []),
    }
