"""Request bodies of the operations routes (deployments, rollouts, monitors, triggers,
pipeline runs). Unknown fields are refused; the domain services check the values again and
say what is wrong in their own words, as in local mode."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopml.server.bodies import Key, Name, Text

# Described in the schema, checked by the domain (whose messages say what to do), so that
# local and remote mode refuse the same input with the same words.
Percent = Annotated[float, Field(json_schema_extra={"minimum": 0, "maximum": 100})]
Reason = Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": 2000})]
Duration = Annotated[str | float, Field(description="Seconds, or text such as '1h' or '30 min'.")]
ModelRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=400,
        description="model:NAME/VERSION or model:NAME@ALIAS (resolved to a version now).",
    ),
]
OVERRIDE = (
    "Admins only: make a change the traffic policy refuses, saying why (audited). Anyone "
    "else sending it is refused."
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteBody(Body):
    model: Name
    version: int = Field(ge=1)
    weight: Percent = 100.0


class CreateDeployment(Body):
    name: Name
    model: ModelRef
    sticky_key: Key | None = None
    config: dict[str, Any] | None = None
    unknown_categories: Literal["error", "accept", "flag"] | None = None
    extra_columns: Literal["error", "ignore"] | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class UpdateDeployment(Body):
    """Fields left out keep their current value; `sticky_key: null` turns sticky routing
    off."""

    routes: list[RouteBody] | None = Field(None, max_length=100)
    shadows: list[RouteBody] | None = Field(None, max_length=100)
    strategy: Literal["single", "canary", "blue-green"] | None = None
    sticky_key: Key | None = None
    unknown_categories: Literal["error", "accept", "flag"] | None = None
    extra_columns: Literal["error", "ignore"] | None = None
    reason: Reason | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class Canary(Body):
    model: ModelRef
    weight: Percent
    reason: Reason | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class BlueGreen(Body):
    model: ModelRef
    smoke_test: bool = True
    reason: Reason | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class Shadow(Body):
    model: ModelRef
    enabled: bool = True
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class Promote(Body):
    model: ModelRef
    reason: Reason | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class Rollback(Body):
    reason: Reason | None = None
    override_reason: Reason | None = Field(None, description=OVERRIDE)


class SetPolicy(Body):
    policy: dict[str, Any] = Field(
        description="approved_alias, full_traffic, partial_traffic, max_partial_weight, shadow"
    )
    reason: Reason | None = None


class ClearPolicy(Body):
    reason: Reason | None = None


class CreateDeploymentToken(Body):
    scopes: list[Literal["predict", "feedback"]] = Field(min_length=1, max_length=2)
    label: Text | None = None
    expires_in_s: float | None = Field(None, gt=0, allow_inf_nan=False)


class StartRollout(Body):
    deployment: Name
    model: ModelRef
    plan: dict[str, Any] | None = Field(
        None, description="steps, step_duration, SLOs … (see RolloutPlan); default plan if unset"
    )
    reason: Reason | None = None


class AbortRollout(Body):
    reason: Reason


class CreateMonitor(Body):
    name: Name
    source: str | None = Field(None, max_length=400, description="deployment:NAME, dataset:NAME")
    feature_view: Name | None = None
    reference: str | None = Field(None, max_length=400, description="dataset:NAME@VERSION")
    columns: list[Key] | None = None
    window: str | int = "1000 rows"
    schedule: Duration | None = None
    label_delay: Duration | None = None
    tests: dict[Key, str] | None = None
    thresholds: dict[Key, float] | None = None
    drift_share: float = Field(0.5, gt=0, le=1)
    task: Literal["classification", "regression"] | None = None
    target: Key | None = None
    prediction: Key | None = None
    rules: list[str | dict[str, Any]] = Field(default_factory=list, max_length=100)
    sinks: list[str] = Field(default_factory=list, max_length=20)
    replace: bool = False
    calibrate: str = "reference"
    false_alarm_rate: float = Field(0.05, gt=0, lt=1)
    seasonal: str | None = None
    resolve_after: int = Field(2, ge=1)
    min_class_rows: int = Field(30, ge=1)
    time_basis: Literal["arrival", "event"] = "arrival"
    max_lag: Duration | None = None
    max_age: Duration | None = None
    max_behind: Duration | None = None
    estimate: bool = False
    estimate_reference: str | None = Field(None, max_length=400, description="dataset:NAME@V")


class RunMonitor(Body):
    partial: bool = Field(False, description="Also compute the window still filling up.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many windows.")


class AcknowledgeAlert(Body):
    comment: Reason | None = None


class ResolveAlert(Body):
    reason: Reason


class CreateTrigger(Body):
    name: Name
    on: str = Field(max_length=400, description="dataset:NAME, alert:MONITOR[:RULE], schedule:1h")
    pipeline: str = Field(max_length=400, description="A registered pipeline's name.")
    params: dict[str, Any] | None = None
    cooldown: Duration | None = None
    rollout: dict[str, Any] | None = Field(None, description="{deployment, plan}")
    enabled: bool = True
    requires_new_data: Name | None = None


class RegisterPipeline(Body):
    name: Name
    import_path: str = Field(max_length=400, description="MODULE:ATTR of the project's code")


class LaunchPipeline(Body):
    pipeline: Name = Field(description="The name a registered pipeline was registered under.")
    params: dict[str, Any] = Field(default_factory=dict)
