"""Approval policies: who must agree, and which automatic checks must pass, before a
protected alias (by default `champion`) moves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopml.errors import ValidationError as LoopmlValidationError
from loopml.store.principal import ROLES


class MetricThreshold(BaseModel):
    """`metric` of the candidate (its run's latest value) must be `op` `value`."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    op: Literal[">=", ">", "<=", "<"]
    value: float


class NoRegression(BaseModel):
    """Evaluated on `dataset`, the candidate may be at most `margin` worse than the current
    holder of the alias on `metric`."""

    model_config = ConfigDict(extra="forbid")
    dataset: str
    target: str
    metric: Literal["rmse", "mae", "r2", "accuracy", "f1", "roc_auc", "log_loss"]
    margin: float = Field(default=0.0, ge=0)


class FairnessLimits(BaseModel):
    """Evaluated on `dataset` grouped by `sensitive` columns: each difference at most its
    limit, each ratio (`*_ratio`) at least its limit."""

    model_config = ConfigDict(extra="forbid")
    dataset: str
    target: str
    sensitive: list[str] = Field(min_length=1)
    limits: dict[str, float] = Field(min_length=1)


class ReplayRequirement(BaseModel):
    """The candidate's newest replay on `deployment` (`loopml replay`), against the alias's
    current holder and no older than `max_age_s`, must have passed."""

    model_config = ConfigDict(extra="forbid")
    deployment: str = Field(min_length=1)
    max_age_s: float = Field(default=7 * 86_400.0, gt=0)


class Policy(BaseModel):
    """The rules for one registered model. The default: one approval from an approver
    who is not the requester."""

    model_config = ConfigDict(extra="forbid")
    required_approvals: int = Field(default=1, ge=1, le=10)
    approver_role: Literal["approver", "admin"] = "approver"
    four_eyes: bool = True
    independent_approvers: bool = True  # no approver created by the requester or later
    auto_approve: bool = False
    thresholds: list[MetricThreshold] = Field(default_factory=list)
    no_regression: NoRegression | None = None
    fairness: FairnessLimits | None = None
    replay: ReplayRequirement | None = None

    @model_validator(mode="after")
    def _role_known(self) -> Policy:
        assert self.approver_role in ROLES
        return self


def parse_policy(data: dict[str, Any] | Policy | None) -> Policy:
    """A Policy from a dict (e.g. a JSON file), with every problem named."""
    if data is None:
        return Policy()
    if isinstance(data, Policy):
        return data
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
            for err in exc.errors()
        )
        raise LoopmlValidationError(f"invalid approval policy ({problems})") from exc
