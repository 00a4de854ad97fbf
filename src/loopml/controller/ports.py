"""The controller's two narrow interfaces to the rest of the loop, and what they return.

The controller launches pipelines through a `PipelineLauncher` and drives rollouts
through a `RolloutDriver`; `launchers.PipelineRunLauncher` and
`rollout_driver.RolloutServiceDriver` are the defaults over `loopml.pipelines` and
`loopml.rollouts`, and a test can pass its own small implementations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from loopml.controller.triggers import TriggerService
from loopml.monitoring.service import MonitorService
from loopml.pipelines import PipelineClient
from loopml.rollouts import RolloutService

SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass(frozen=True)
class Candidate:
    """A model version a pipeline proposes for rollout, and whether it passed its gate."""

    version: str  # a model URI such as model:bikes/7
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LaunchOutcome:
    """How one launch ended: status, the pipeline run's id, a JSON summary of its outputs,
    the candidate it names (if any), and the error when it failed."""

    status: str  # succeeded | failed
    pipeline_run_id: str | None = None
    outputs: Any = None
    candidate: Candidate | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pipeline_run_id": self.pipeline_run_id,
            "outputs": self.outputs,
            "candidate": None if self.candidate is None else self.candidate.to_dict(),
            "error": self.error,
        }


@dataclass(frozen=True)
class RolloutChange:
    """What one `advance` did to a deployment's rollout (`changed` False: nothing)."""

    deployment: str
    changed: bool
    state: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ControllerClient(PipelineClient, Protocol):
    """What the controller needs of a client (the SDK's `Client` has it): what pipelines
    run with, plus the monitors, triggers and rollouts it reconciles."""

    monitors: MonitorService
    triggers: TriggerService
    rollouts: RolloutService


class PipelineLauncher(Protocol):
    """Runs a pipeline to its end. Contract: launching the same `key` again after a crash
    resumes that work (completed steps are not repeated) rather than starting over; a
    failure of the pipeline is an outcome with status `failed`, not an exception."""

    def launch(
        self, target: str, params: dict[str, Any], *, client: ControllerClient, key: str
    ) -> LaunchOutcome: ...


class RolloutDriver(Protocol):
    """Starts and advances progressive rollouts. Contract: `ensure_started` is idempotent
    (a second call for the same deployment and candidate returns the first rollout), and
    `advance` is safe to repeat and to run from two controllers at once."""

    def ensure_started(
        self, deployment: str, candidate: str, plan: dict[str, Any], *, key: str
    ) -> dict[str, Any]: ...

    def active(self, now: float) -> list[str]: ...

    def advance(self, deployment: str, now: float) -> RolloutChange: ...
