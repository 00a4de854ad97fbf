"""The server's JSON documents of the operations namespaces back into the records local
mode returns (each the inverse of the record's `to_dict`)."""

from __future__ import annotations

from typing import Any

from loopml.controller import LaunchOutcome, Trigger, TriggerEvent, TriggerSource
from loopml.controller.ports import Candidate
from loopml.controller.trigger_records import RolloutSpec
from loopml.deployments import Deployment, Route
from loopml.deployments.tokens import DeploymentToken
from loopml.governance.traffic_policy import PolicyInForce, TrafficPolicy
from loopml.monitoring.alerts import Alert, AlertChanges, AlertRule, Condition
from loopml.monitoring.definition import Monitor, MonitorConfig, Source
from loopml.monitoring.records import MonitorRun, StoredResult
from loopml.monitoring.results import WindowResult
from loopml.pipelines import PipelineRunSummary
from loopml.pipelines.catalog import RegisteredPipeline
from loopml.rollouts import Rollout, RolloutStep, SloCheck, StepAnalysis
from loopml.rollouts.estimate_verdict import EstimatedQuality
from loopml.rollouts.records import rollout_from_mapping

Document = dict[str, Any]
_RESULT_KEYS = ("id", "uri", "monitor", "seq", "status", "created_at")


def _routes(items: list[Any] | None) -> list[Route]:
    return [Route.from_dict(item) for item in items or []]


def _fields(kind: type, data: Document) -> Document:
    """The keys of `data` that are fields of dataclass `kind` (derived keys dropped)."""
    names = kind.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in data.items() if k in names}


def deployment(data: Document) -> Deployment:
    previous = data.get("previous_routes")
    return Deployment(
        name=data["name"],
        revision=int(data["revision"]),
        routes=_routes(data["routes"]),
        shadows=_routes(data["shadows"]),
        strategy=data["strategy"],
        sticky_key=data.get("sticky_key"),
        previous_routes=None if previous is None else _routes(previous),
        config=dict(data.get("config") or {}),
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_by=data["updated_by"],
        updated_at=data["updated_at"],
    )


def policy_in_force(data: Document) -> PolicyInForce:
    return PolicyInForce(
        policy=TrafficPolicy.model_validate(data["policy"]),
        **_fields(PolicyInForce, {k: v for k, v in data.items() if k != "policy"}),
    )


def deployment_token(data: Document) -> DeploymentToken:
    fields = _fields(DeploymentToken, data)
    fields["scopes"] = tuple(fields["scopes"])
    return DeploymentToken(**fields)


def rollout(data: Document) -> Rollout:
    return rollout_from_mapping(data)


def rollout_step(data: Document) -> RolloutStep:
    found = data.get("analysis")
    analysis = None
    if found is not None:
        checks = [SloCheck(**check) for check in found.get("checks", [])]
        estimated = found.get("estimated")
        analysis = StepAnalysis(
            **{
                **_fields(StepAnalysis, found),
                "checks": checks,
                "estimated": None if estimated is None else EstimatedQuality.from_dict(estimated),
            }
        )
    return RolloutStep(
        rollout(data["rollout"]), data["action"], list(data.get("waiting_for", [])), analysis
    )


def monitor(data: Document) -> Monitor:
    return Monitor(
        name=data["name"],
        source=Source.parse(data["source"]),
        reference=data.get("reference"),
        config=MonitorConfig.from_dict(data["config"]),
        cursor=data.get("cursor"),
        next_run_at=data.get("next_run_at"),
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
    )


def stored_result(data: Document) -> StoredResult:
    window = {k: v for k, v in data.items() if k not in _RESULT_KEYS}
    return StoredResult(
        id=data["id"],
        monitor=data["monitor"],
        seq=int(data["seq"]),
        window=WindowResult.from_dict(window),
        status=data["status"],
        created_at=data["created_at"],
    )


def alert(data: Document) -> Alert:
    return Alert(**_fields(Alert, data))


def _condition(data: Document) -> Condition:
    return Condition(
        rule=AlertRule.from_dict(data["rule"]),
        subject=data["subject"],
        state=data["state"],
        value=data.get("value"),
        threshold=data.get("threshold"),
        message=data["message"],
    )


def monitor_run(data: Document) -> MonitorRun:
    changes = data["alerts"]
    return MonitorRun(
        stored_result(data["result"]),
        AlertChanges(
            opened=[alert(a) for a in changes.get("opened", [])],
            still_open=[alert(a) for a in changes.get("still_open", [])],
            resolved=[alert(a) for a in changes.get("resolved", [])],
            unknown=[_condition(c) for c in changes.get("unknown", [])],
            clearing=[alert(a) for a in changes.get("clearing", [])],
        ),
    )


def trigger(data: Document) -> Trigger:
    return Trigger(
        name=data["name"],
        source=TriggerSource.from_dict(data["kind"], data["source"]),
        pipeline=data["pipeline"],
        params=dict(data.get("params") or {}),
        cooldown_s=data["cooldown_s"],
        rollout=RolloutSpec.parse(data.get("rollout")),
        enabled=bool(data["enabled"]),
        cursor=data["cursor"],
        last_fired_at=data.get("last_fired_at"),
        created_by=data["created_by"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        created_role=data["created_role"],
    )


def trigger_event(data: Document) -> TriggerEvent:
    return TriggerEvent(**_fields(TriggerEvent, data))


def registered_pipeline(data: Document) -> RegisteredPipeline:
    return RegisteredPipeline(**_fields(RegisteredPipeline, data))


def pipeline_run(data: Document) -> PipelineRunSummary:
    return PipelineRunSummary(**_fields(PipelineRunSummary, data))


def launch_outcome(data: Document) -> LaunchOutcome:
    candidate = data.get("candidate")
    return LaunchOutcome(
        status=data["status"],
        pipeline_run_id=data.get("pipeline_run_id"),
        outputs=data.get("outputs"),
        candidate=None if candidate is None else Candidate(**candidate),
        error=data.get("error"),
    )
