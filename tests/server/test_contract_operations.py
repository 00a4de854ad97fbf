"""The operations contract: deployments, rollouts, monitors, triggers and pipeline launches,
the same scenarios through the SDK in local mode, in remote mode over a server on SQLite,
and in remote mode over a server on PostgreSQL + the S3 server."""

from __future__ import annotations

import uuid

import pytest

from loopml import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.controller import LaunchOutcome, Trigger
from loopml.deployments import Deployment, Route
from loopml.errors import PolicyViolationError
from loopml.monitoring.definition import Monitor
from loopml.rollouts import Rollout, RolloutStep
from loopml.samples.bikeshare import bikeshare_features, load_bikeshare
from tests.server.conftest import OpsClients, log_table

pytestmark = pytest.mark.slow
OPEN = {"full_traffic": ["any"], "partial_traffic": ["any"], "shadow": ["any"]}
PIPELINE_MODULE = """
def retrain(n: int = 1) -> dict:
    return {"n": n, "doubled": 2 * n}
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _weights(deployment: Deployment) -> dict[int, float]:
    return {r.version: r.weight for r in deployment.routes}


def _deployed(ops: OpsClients) -> str:
    """A deployment on version 1 (an admin's override: no version is champion), whose own
    traffic policy admits any version, so the editor can route freely."""
    name = _name("dep")
    ops.admin.deployments.create(name, f"model:{ops.model}/1", override_reason="first version")
    ops.admin.deployments.policy.set(OPEN, deployment=name, reason="contract tests")
    return name


def test_deployment_routing_from_creation_to_rollback(ops_clients: OpsClients) -> None:
    ops = ops_clients
    deployments = ops.editor.deployments
    name = _name("dep")
    v1, v2 = f"model:{ops.model}/1", f"model:{ops.model}/2"
    with pytest.raises(PolicyViolationError, match="traffic policy"):
        deployments.create(name, v1)  # version 1 is not champion: the default policy refuses
    with pytest.raises(PermissionDeniedError, match="admin"):
        deployments.create(name, v1, override_reason="I insist")
    created = ops.admin.deployments.create(
        name, v1, extra_columns="ignore", override_reason="first version"
    )
    assert isinstance(created, Deployment)
    assert created.revision == 1 and created.routes == [Route(ops.model, 1, 100.0)]
    assert created.input_policy.extra_columns == "ignore"
    with pytest.raises(ConflictError, match="already exists"):
        ops.admin.deployments.create(name, v1, override_reason="again")
    with pytest.raises(PermissionDeniedError):
        deployments.policy.set(OPEN, deployment=name, reason="let me")
    in_force = ops.admin.deployments.policy.set(OPEN, deployment=name, reason="tests")
    assert in_force.scope == "deployment" and in_force.policy.full_traffic == ["any"]
    assert ops.viewer.deployments.policy.get(name).reason == "tests"
    assert ops.viewer.deployments.policy.get().scope in ("default", "workspace")

    canary = deployments.canary(name, v2, 10, reason="try v2")
    assert canary.strategy == "canary" and _weights(canary) == {1: 90.0, 2: 10.0}
    promoted = deployments.promote(name, v2, reason="v2 holds up")
    assert _weights(promoted) == {2: 100.0} and promoted.previous_routes == canary.routes
    shadowed = deployments.shadow(name, v1)
    assert shadowed.shadows == [Route(ops.model, 1, 100.0)]
    assert deployments.shadow(name, v1, enabled=False).shadows == []
    rolled = deployments.rollback(name, reason="error rate up")
    assert _weights(rolled) == {1: 90.0, 2: 10.0}
    switched = deployments.blue_green(name, v1, reason="all on v1")
    assert switched.strategy == "blue-green" and _weights(switched) == {1: 100.0}
    sticky = deployments.update(name, sticky_key="user_id", unknown_categories="flag")
    assert sticky.sticky_key == "user_id" and sticky.input_policy.unknown_categories == "flag"
    assert _weights(sticky) == {1: 100.0}
    split = deployments.update(
        name, [Route(ops.model, 1, 70.0), {"model": ops.model, "version": 2, "weight": 30}]
    )
    assert split.sticky_key == "user_id" and _weights(split) == {1: 70.0, 2: 30.0}
    unstuck = deployments.update(name, sticky_key=None, reason="no more pinning")
    assert unstuck.sticky_key is None and unstuck.revision == split.revision + 1

    assert deployments.get(name) == unstuck
    assert name in {d.name for d in ops.viewer.deployments.list()}
    history = ops.viewer.deployments.history(name)
    assert [h["revision"] for h in history] == list(range(1, unstuck.revision + 1))
    assert history[1]["reason"] == "try v2" and history[-1]["reason"] == "no more pinning"
    with pytest.raises(ValidationError, match="nothing to change"):
        deployments.update(name)
    with pytest.raises(ValidationError, match="between 0 and 100"):
        deployments.canary(name, v2, 150)
    with pytest.raises(NotFoundError, match="no deployment"):
        deployments.get(_name("missing"))
    with pytest.raises(PermissionDeniedError):
        ops.viewer.deployments.promote(name, v2)


def test_the_traffic_policy_binds_the_editor_and_an_admin_overrides_it(
    ops_clients: OpsClients,
) -> None:
    ops = ops_clients
    name = _name("dep")
    v1, v2 = f"model:{ops.model}/1", f"model:{ops.model}/2"
    ops.admin.deployments.create(name, v1, override_reason="first version")
    with pytest.raises(PolicyViolationError, match="traffic policy"):
        ops.editor.deployments.promote(name, v2)
    with pytest.raises(PermissionDeniedError, match="admin"):
        ops.editor.deployments.promote(name, v2, override_reason="incident 42")
    assert _weights(ops.viewer.deployments.get(name)) == {1: 100.0}
    forced = ops.admin.deployments.promote(name, v2, override_reason="incident 42")
    assert _weights(forced) == {2: 100.0}
    assert ops.viewer.deployments.history(name)[-1]["reason"] == "incident 42"


def test_data_plane_tokens(ops_clients: OpsClients) -> None:
    ops = ops_clients
    name = _deployed(ops)
    tokens = ops.editor.deployments.tokens
    made = tokens.create(name, ["predict", "feedback"], label="app", expires_in_s=3600)
    assert made.token is not None and made.token.startswith("lmd_")
    assert made.scopes == ("predict", "feedback") and made.deployment == name
    listed = tokens.list(name)
    assert [t.id for t in listed] == [made.id] and listed[0].token is None
    revoked = tokens.revoke(made.id)
    assert revoked.revoked and not revoked.active()
    with pytest.raises(ValidationError, match="scopes"):
        tokens.create(name, ["admin"])
    with pytest.raises(PermissionDeniedError):
        ops.viewer.deployments.tokens.create(name, ["predict"])


def test_a_rollout_starts_waits_for_traffic_and_is_aborted(ops_clients: OpsClients) -> None:
    ops = ops_clients
    name = _deployed(ops)
    rollouts = ops.editor.rollouts
    v2 = f"model:{ops.model}/2"
    with pytest.raises(NotFoundError, match="has no rollout"):
        rollouts.get(name)
    started = rollouts.start(
        name, v2, {"steps": [10, 50, 100], "hold_s": 600}, reason="v2 candidate"
    )
    assert isinstance(started, Rollout)
    assert started.state == "running" and started.step == 0 and started.candidate == v2
    assert started.plan.steps == (10.0, 50.0, 100.0) and started.reasons == ["v2 candidate"]
    assert _weights(ops.viewer.deployments.get(name)) == {1: 90.0, 2: 10.0}
    with pytest.raises(ConflictError):
        rollouts.start(name, v2)
    step = rollouts.advance(name)
    assert isinstance(step, RolloutStep)
    assert step.action == "wait" and step.waiting_for and not step.changed
    assert rollouts.get(name) == step.rollout
    assert [r.id for r in ops.viewer.rollouts.list(deployment=name)] == [started.id]
    assert started.id in {r.id for r in ops.viewer.rollouts.list("active")}
    aborted = rollouts.abort(name, "not today")
    assert aborted.state == "aborted" and "not today" in aborted.reasons
    assert _weights(ops.viewer.deployments.get(name)) == {1: 100.0}
    actions = [entry["action"] for entry in ops.viewer.rollouts.history(started.id)]
    assert actions[0] == "start" and actions[-1] == "abort"
    with pytest.raises(ConflictError, match="already finished"):
        rollouts.abort(name, "again")
    with pytest.raises(ValidationError, match="unknown rollout plan keys"):
        rollouts.start(name, v2, {"stepz": [10]})
    with pytest.raises(PermissionDeniedError):
        ops.viewer.rollouts.start(name, v2)


def test_a_rollout_judged_by_estimate_pins_its_reference(ops_clients: OpsClients) -> None:
    ops = ops_clients
    name = _deployed(ops)
    rollouts = ops.editor.rollouts
    v2 = f"model:{ops.model}/2"
    plan = {"steps": [10, 100], "hold_s": 600, "judge_by": "labels_or_estimate"}
    with pytest.raises(ValidationError, match="has no stored evaluation"):
        rollouts.start(name, v2, plan)
    with pytest.raises(ValidationError, match="judge_by must be 'labels'"):
        rollouts.start(name, v2, {**plan, "judge_by": "vibes"})
    frame = load_bikeshare().iloc[300:600]
    holdout = _name("holdout")
    labelled = bikeshare_features(frame).assign(bikers=frame["bikers"].to_numpy())
    log_table(ops.editor, holdout, labelled)
    started = rollouts.start(name, v2, {**plan, "estimate_reference": f"dataset:{holdout}"})
    assert started.plan.judge_by == "labels_or_estimate"
    assert started.plan.estimate_reference == f"dataset:{holdout}@1"
    assert started.plan.estimate_target == "bikers"  # the one column that is not an input
    assert ops.viewer.rollouts.get(name).plan == started.plan
    [entry] = ops.viewer.rollouts.history(started.id)
    assert entry["action"] == "start" and entry["analysis"] is None
    rollouts.abort(name, "contract test")


def test_a_monitor_is_declared_run_and_read(ops_clients: OpsClients) -> None:
    ops = ops_clients
    name = _deployed(ops)
    monitors = ops.editor.monitors
    monitor_name = _name("mon")
    created = monitors.create(
        monitor_name,
        f"deployment:{name}",
        window="1 h",
        rules=["dataset_drift@critical"],
        schedule="1h",
    )
    assert isinstance(created, Monitor)
    assert str(created.source) == f"deployment:{name}" and created.config.schedule_s == 3600
    assert monitors.get(monitor_name) == created
    assert monitor_name in {m.name for m in ops.viewer.monitors.list()}
    assert monitors.reference_of(monitor_name) == ops.viewer.monitors.reference_of(monitor_name)
    with pytest.raises(ConflictError, match="exists"):
        monitors.create(monitor_name, f"deployment:{name}")
    assert monitors.run(monitor_name) == []  # no traffic yet: no complete window
    results = monitors.results(monitor_name)
    assert list(results) == [] and results.next_page_token is None
    with pytest.raises(NotFoundError, match="no result yet"):
        monitors.result(monitor_name)
    with pytest.raises(NotFoundError, match="no result yet"):
        monitors.report(monitor_name)
    assert list(ops.viewer.monitors.alerts.list(monitor_name)) == []
    with pytest.raises(NotFoundError):
        ops.viewer.monitors.alerts.get("alert-000000000000")
    with pytest.raises(ValidationError, match="unknown kind"):
        monitors.create(_name("mon"), f"deployment:{name}", rules=["sideways:3"])
    with pytest.raises(NotFoundError):
        monitors.create(_name("mon"), f"deployment:{_name('nowhere')}")
    with pytest.raises(PermissionDeniedError):
        ops.viewer.monitors.run(monitor_name)


def test_triggers_and_pipeline_launches(ops_clients: OpsClients) -> None:
    ops = ops_clients
    module = "ops_pipes_" + uuid.uuid4().hex[:8]
    (ops.project / f"{module}.py").write_text(PIPELINE_MODULE)
    pipeline = _name("retrain")
    with pytest.raises(PermissionDeniedError):
        ops.editor.pipelines.register(pipeline, f"{module}:retrain")
    with pytest.raises(PermissionDeniedError, match="not a pipeline or a function"):
        ops.admin.pipelines.register(_name("evil"), "os:system")
    registered = ops.admin.pipelines.register(pipeline, f"{module}:retrain")
    assert registered.name == pipeline and registered.kind == "function"
    assert pipeline in {p.name for p in ops.viewer.pipelines.list()}

    outcome = ops.editor.pipelines.launch(pipeline, {"n": 3})
    assert isinstance(outcome, LaunchOutcome)
    assert outcome.status == "succeeded" and outcome.outputs == {"n": 3, "doubled": 6}
    with pytest.raises(ValidationError, match="by its name"):
        ops.editor.pipelines.launch("os:system")
    with pytest.raises(PermissionDeniedError, match="not registered"):
        ops.editor.pipelines.launch(_name("unregistered"))
    with pytest.raises(PermissionDeniedError):
        ops.viewer.pipelines.launch(pipeline)
    assert isinstance(ops.viewer.pipelines.runs(limit=5), list)

    triggers = ops.editor.triggers
    trigger_name = _name("trig")
    created = triggers.create(
        trigger_name, "schedule:1h", pipeline, params={"n": 2}, cooldown="10 min"
    )
    assert isinstance(created, Trigger)
    assert created.enabled and created.pipeline == pipeline and created.cooldown_s == 600
    assert created.source.every_s == 3600 and created.params == {"n": 2}
    assert triggers.get(trigger_name) == created
    assert triggers.disable(trigger_name).enabled is False
    assert triggers.enable(trigger_name).enabled is True
    assert trigger_name in {t.name for t in ops.viewer.triggers.list()}
    assert triggers.events(trigger_name) == []
    with pytest.raises(PermissionDeniedError, match="not registered"):
        triggers.create(_name("trig"), "schedule:1h", "os:system")
    with pytest.raises(ValidationError, match="unknown kind"):
        triggers.create(_name("trig"), "sometimes:1h", pipeline)
    with pytest.raises(PermissionDeniedError):
        ops.viewer.triggers.disable(trigger_name)
    triggers.delete(trigger_name)
    with pytest.raises(NotFoundError):
        triggers.get(trigger_name)


def test_drift_opens_an_alert_that_is_acknowledged_and_resolved_by_hand(
    ops_clients: OpsClients,
) -> None:
    """A monitor over a dataset's versions: the second version drifted, an alert opens,
    an editor acknowledges it, then resolves it with a reason."""
    ops = ops_clients
    frame = bikeshare_features(load_bikeshare().head(400))
    dataset = _name("weather")
    log_table(ops.editor, dataset, frame)
    monitors = ops.editor.monitors
    monitor_name = _name("mon")
    monitors.create(
        monitor_name, f"dataset:{dataset}", rules=["dataset_drift@critical"], drift_share=0.1
    )
    drifted = frame.assign(temp=frame["temp"] + 25, atemp=frame["atemp"] + 25)
    log_table(ops.editor, dataset, drifted)
    runs = monitors.run(monitor_name)
    assert runs and runs[-1].result.window.drift is not None
    assert {"temp", "atemp"} <= {c.column for c in runs[-1].result.window.drift.drifted}
    opened = [a for run in runs for a in run.alerts.opened]
    assert [a.rule for a in opened] == ["dataset_drift"] and opened[0].severity == "critical"
    alert = opened[0]
    assert monitors.alerts.get(alert.id) == alert
    assert [a.id for a in ops.viewer.monitors.alerts.list(monitor_name, "open")] == [alert.id]
    latest = monitors.result(monitor_name)
    assert latest == runs[-1].result
    assert [r.seq for r in monitors.results(monitor_name)] == [r.result.seq for r in runs]
    html = ops.viewer.monitors.report(monitor_name)
    assert html.lstrip().lower().startswith("<!doctype html") and monitor_name in html

    with pytest.raises(PermissionDeniedError):
        ops.viewer.monitors.alerts.acknowledge(alert.id)
    seen = monitors.alerts.acknowledge(alert.id, comment="looking into it")
    assert seen.state == "open" and seen.acknowledged_at is not None
    assert seen.acknowledged_by == ops.editor.principal.name
    with pytest.raises(ValidationError, match="reason"):
        monitors.alerts.resolve(alert.id, reason="  ")
    closed = monitors.alerts.resolve(alert.id, reason="the sensor was recalibrated")
    assert closed.state == "resolved" and closed.resolved_at is not None
    assert list(ops.viewer.monitors.alerts.list(monitor_name, "open")) == []
    with pytest.raises(ConflictError, match="already resolved"):
        monitors.alerts.resolve(alert.id, reason="again")
    with pytest.raises(ConflictError, match="already resolved"):
        monitors.alerts.acknowledge(alert.id)
