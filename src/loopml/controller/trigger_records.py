"""What a trigger declares and what each of its events records.

A trigger says *on what* (a new dataset version, an alert opening, a schedule slot), *what
to launch* (a pipeline by import path, with parameters) and optionally *what to roll out*
once the pipeline names a candidate that passed. An event is one cause of one trigger; its
cause dictionary is what the pipeline receives as its `trigger` parameter.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from loopml.controller.schedules import check_cron, check_interval
from loopml.errors import ValidationError
from loopml.monitoring.definition import parse_duration
from loopml.rollouts import RolloutPlan
from loopml.validation import check_name

KINDS = ("dataset", "alert", "schedule", "feature_view")

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED_COOLDOWN = "skipped_cooldown"
WAITING_DATA = "waiting_data"  # fired, but the trigger needs a new dataset version first
EVENT_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED_COOLDOWN, WAITING_DATA)
RETRYABLE = (FAILED, SKIPPED_COOLDOWN)

# rollout_state of an event whose pipeline succeeded (None: the trigger has no rollout)
ROLLOUT_PENDING = "pending"
ROLLOUT_STARTING = "starting"
ROLLOUT_STARTED = "started"
ROLLOUT_SKIPPED = "skipped"
ROLLOUT_FAILED = "failed"

#: The keys of the `trigger` dictionary a pipeline receives, per kind of trigger.
CAUSE_KEYS = {
    "dataset": ("dataset", "dataset_name", "dataset_id", "version"),
    "alert": ("alert", "monitor", "rule", "subject", "severity", "opened_at"),
    "schedule": ("slot", "slot_time"),
    "feature_view": ("feature_view", "dataset", "dataset_name", "dataset_id", "version"),
}
COMMON_KEYS = ("kind", "trigger", "event", "cause")
#: Keys added to the cause once the new data a trigger waited for has arrived.
NEW_DATA_KEYS = ("new_data", "new_data_name", "new_data_version")
#: Kinds of trigger that may wait for new data (a dataset trigger fires on new data already).
WAITING_KINDS = ("alert", "schedule")
RESERVED_PARAM = "trigger"

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_PLACEHOLDER = re.compile(r"^\{trigger\.([a-z_]+)\}$")
_PARAM_NAME = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class TriggerSource:
    """The parsed `on` of a trigger: `dataset:NAME`, `alert:MONITOR[:RULE]`,
    `schedule:DURATION`, `cron:EXPRESSION` or `feature_view:VIEW` (a new version of the
    dataset the view reads; `dataset` records which one that is)."""

    kind: str
    feature_view: str | None = None
    dataset: str | None = None
    monitor: str | None = None
    rule: str | None = None
    every_s: float | None = None
    cron: str | None = None
    requires_new_data: str | None = None  # a dataset that needs a new version before launching

    @classmethod
    def parse(cls, on: str) -> TriggerSource:
        if not isinstance(on, str) or ":" not in on:
            raise ValidationError(
                f"trigger source {on!r} is invalid: use dataset:NAME, alert:MONITOR[:RULE], "
                "schedule:1h or cron:'0 * * * *' (or feature_view:VIEW)"
            )
        prefix, _, rest = on.strip().partition(":")
        rest = rest.strip()
        if prefix == "dataset":
            return cls("dataset", dataset=check_name("dataset", rest))
        if prefix == "alert":
            monitor, _, rule = rest.partition(":")
            return cls("alert", monitor=check_name("monitor", monitor), rule=rule.strip() or None)
        if prefix in ("schedule", "every"):
            return cls("schedule", every_s=check_interval(parse_duration(rest, "schedule")))
        if prefix == "cron":
            return cls("schedule", cron=check_cron(rest.strip("'\"")))
        if prefix in ("feature_view", "view"):
            return cls("feature_view", feature_view=check_name("feature view", rest))
        raise ValidationError(
            f"trigger source {on!r} has an unknown kind {prefix!r}: use dataset:NAME, "
            "alert:MONITOR[:RULE], schedule:1h or cron:'0 * * * *' (or feature_view:VIEW)"
        )

    @classmethod
    def from_dict(cls, kind: str, data: dict[str, Any]) -> TriggerSource:
        return cls(kind, **data)

    def waiting_for(self, dataset: str | None) -> TriggerSource:
        """This source, launching only once `dataset` has a version newer than the cause."""
        if dataset is None:
            return self
        if self.kind not in WAITING_KINDS:
            raise ValidationError(
                f"requires_new_data is for alert and schedule triggers; a {self.kind} trigger "
                "fires on a new dataset version already"
            )
        return replace(self, requires_new_data=check_name("dataset", dataset))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "kind" and v is not None}

    def __str__(self) -> str:
        if self.kind == "dataset":
            return f"dataset:{self.dataset}"
        if self.kind == "feature_view":
            return f"feature_view:{self.feature_view}"
        if self.kind == "alert":
            return f"alert:{self.monitor}" + (f":{self.rule}" if self.rule else "")
        if self.cron is not None:
            return f"cron:{self.cron}"
        return f"schedule:{_duration_text(self.every_s or 0)}"


@dataclass(frozen=True)
class RolloutSpec:
    """Roll the pipeline's passed candidate out on `deployment` following `plan`."""

    deployment: str
    plan: dict[str, Any]

    @classmethod
    def parse(cls, value: RolloutSpec | dict[str, Any] | None) -> RolloutSpec | None:
        if value is None or isinstance(value, RolloutSpec):
            return value
        if not isinstance(value, dict) or set(value) - {"deployment", "plan"}:
            raise ValidationError(
                f"rollout must be a dict with 'deployment' and an optional 'plan', got {value!r}"
            )
        plan = value.get("plan") or {}
        if not isinstance(plan, dict):
            raise ValidationError(f"the rollout plan must be a JSON object, got {plan!r}")
        check_json("rollout plan", plan)
        RolloutPlan.from_dict(plan)  # refused now rather than when the candidate is ready
        return cls(check_name("deployment", value.get("deployment")), dict(plan))

    def to_dict(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "plan": self.plan}


@dataclass(frozen=True)
class Trigger:
    """One stored trigger."""

    name: str
    source: TriggerSource
    pipeline: str
    params: dict[str, Any]
    cooldown_s: float
    rollout: RolloutSpec | None
    enabled: bool
    cursor: float
    last_fired_at: float | None
    created_by: str
    created_at: float
    updated_at: float
    created_role: str = "admin"  # enabling, disabling, deleting it needs this role or higher

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def uri(self) -> str:
        return f"trigger:{self.name}"

    @classmethod
    def from_row(cls, row: Any) -> Trigger:
        m = row._mapping
        return cls(
            name=m["name"],
            source=TriggerSource.from_dict(m["kind"], m["source"]),
            pipeline=m["pipeline"],
            params=m["params"],
            cooldown_s=m["cooldown_s"],
            rollout=RolloutSpec.parse(m["rollout"]),
            enabled=bool(m["enabled"]),
            cursor=m["cursor"],
            last_fired_at=m["last_fired_at"],
            created_by=m["created_by"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            created_role=m["created_role"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "on": str(self.source),
            "pipeline": self.pipeline,
            "params": self.params,
            "cooldown_s": self.cooldown_s,
            "requires_new_data": self.source.requires_new_data,
            "rollout": None if self.rollout is None else self.rollout.to_dict(),
            "enabled": self.enabled,
            "last_fired_at": self.last_fired_at,
            "created_by": self.created_by,
            "created_role": self.created_role,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class TriggerEvent:
    """One cause of one trigger, and what became of it."""

    id: str
    trigger: str
    cause: str
    cause_info: dict[str, Any]
    state: str
    attempts: int
    owner: str | None
    lease_expires_at: float | None
    pipeline_run_id: str | None
    outcome: dict[str, Any] | None
    error: str | None
    rollout_state: str | None
    rollout: dict[str, Any] | None
    created_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> TriggerEvent:
        data = dict(row._mapping)
        data["trigger"] = data.pop("trigger_name")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_pipeline_reference(reference: Any) -> str:
    """A registered pipeline's name (`bikes-retrain`) or an import path such as
    `bikes.pipelines:retrain` (module, colon, attribute)."""
    if isinstance(reference, str) and ":" not in reference and reference.strip():
        return check_name("pipeline", reference.strip())
    if not isinstance(reference, str) or not _IMPORT_PATH.match(reference.strip()):
        raise ValidationError(
            f"pipeline {reference!r} is neither a registered pipeline's name nor an import "
            "path: write NAME or MODULE:ATTRIBUTE, e.g. bikes.pipelines:retrain"
        )
    return reference.strip()


def check_json(what: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be JSON (text, numbers, lists, dicts): {exc}") from exc


def check_params(
    kind: str, params: dict[str, Any] | None, *, waits_for_data: bool = False
) -> dict[str, Any]:
    """Keyword arguments of the pipeline: JSON values; `{trigger.KEY}` placeholders name a
    key of the cause that this kind of trigger has (and the new data's, when it waits)."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationError(f"params must be a dict of NAME: VALUE, got {params!r}")
    check_json("params", params)
    allowed = COMMON_KEYS + CAUSE_KEYS[kind] + (NEW_DATA_KEYS if waits_for_data else ())
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise ValidationError(f"param name {name!r} must be a Python identifier")
        if name == RESERVED_PARAM:
            raise ValidationError(
                "param name 'trigger' is reserved: the pipeline receives the cause under it"
            )
        key = placeholder(value)
        if key is not None and key not in allowed:
            raise ValidationError(
                f"param {name}={value!r} names {key!r}, which a {kind} trigger does not have; "
                f"use one of {', '.join('{trigger.' + k + '}' for k in allowed)}"
            )
    return dict(params)


def placeholder(value: Any) -> str | None:
    """The KEY of a `{trigger.KEY}` value, else None."""
    if isinstance(value, str):
        match = _PLACEHOLDER.match(value.strip())
        if match:
            return match.group(1)
    return None


def render_params(params: dict[str, Any], cause: dict[str, Any]) -> dict[str, Any]:
    """The params with each `{trigger.KEY}` value replaced by the cause's KEY."""
    rendered = {}
    for name, value in params.items():
        key = placeholder(value)
        rendered[name] = cause.get(key) if key is not None else value
    return rendered


def check_cooldown(value: str | float | None) -> float:
    """Seconds: None or 0 for no cooldown, else a duration such as 30m or 1h."""
    if value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    ):
        return 0.0
    return parse_duration(value, "cooldown")


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
