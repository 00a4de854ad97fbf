"""Where the controller meets `loopml.pipelines` and the deployments' rollout service.

Both are looked up at call time (by module path, through importlib) so the controller works
in an installation that has neither: plain functions are launched by `FunctionLauncher`,
and without a rollout service the controller drives no rollouts (an event that asks for
one records why it could not start it).

`_run_pipeline` and `RolloutServiceDriver` are the only places that know the shapes of
`Pipeline.run(...)` and of `RolloutService`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from loopml.controller.launchers import (
    FunctionLauncher,
    call_arguments,
    failure,
    outcome_of,
)
from loopml.controller.outcomes import summarize
from loopml.controller.ports import FAILED, LaunchOutcome, PipelineLauncher, RolloutChange
from loopml.import_paths import resolve_import_path

PIPELINES_MODULE = "loopml.pipelines"


def _pipelines() -> ModuleType | None:
    try:
        return importlib.import_module(PIPELINES_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in (PIPELINES_MODULE, "loopml"):
            raise  # loopml.pipelines exists but is broken: say so, do not hide it
        return None


class PipelineRunLauncher:
    """Runs `loopml.pipelines` pipelines through `Pipeline.run` (cached steps: a relaunch
    after a crash skips the completed ones); any other target is called as a function."""

    def __init__(self, pipelines: ModuleType) -> None:
        self.pipelines = pipelines
        self.functions = FunctionLauncher()

    def launch(
        self, target: str, params: dict[str, Any], *, client: Any, key: str
    ) -> LaunchOutcome:
        pipeline_type = getattr(self.pipelines, "Pipeline", None)
        try:
            found = resolve_import_path(target)
        except Exception as exc:
            return failure(exc, target)
        if pipeline_type is None or not isinstance(found, pipeline_type):
            return self.functions.launch(target, params, client=client, key=key)
        try:
            run = _run_pipeline(found, params, client)
        except Exception as exc:
            failed = failure(exc, target)
            result = getattr(exc, "result", None)  # PipelineFailedError carries the run
            run_id = getattr(result, "run_id", None)
            return LaunchOutcome(
                FAILED, None if run_id is None else str(run_id), error=failed.error
            )
        run_id = getattr(run, "run_id", None)
        return outcome_of(getattr(run, "output", None), None if run_id is None else str(run_id))


def _run_pipeline(pipeline: Any, params: dict[str, Any], client: Any) -> Any:
    """`Pipeline.run(client, **params)` -> `PipelineResult` (`run_id`, `output`); a failed
    step raises `PipelineFailedError`. Whether the pipeline takes `trigger` (and `client`)
    is read from the decorated function's signature."""
    function = getattr(pipeline, "fn", pipeline)
    arguments = call_arguments(function, params, client)
    arguments.pop("client", None)
    return pipeline.run(client, **arguments)


def default_launcher() -> PipelineLauncher:
    """`loopml.pipelines` pipelines and plain functions when that package is installed,
    plain functions otherwise."""
    pipelines = _pipelines()
    if pipelines is None:
        return FunctionLauncher()
    return PipelineRunLauncher(pipelines)


class RolloutServiceDriver:
    """The `RolloutDriver` over the deployments' `RolloutService` (`client.rollouts`)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    # Uses `RolloutService.start(deployment, candidate_ref, plan, reason=)`,
    # `list(deployment=)`, `due()` and `advance(deployment, now=) -> RolloutStep`.
    def ensure_started(
        self, deployment: str, candidate: str, plan: dict[str, Any], *, key: str
    ) -> dict[str, Any]:
        marker = start_reason(key)
        for rollout in self.service.list(deployment=deployment):
            if marker in (getattr(rollout, "reasons", None) or []):
                return _snapshot(rollout)  # started before a crash: not again
        return _snapshot(self.service.start(deployment, candidate, plan, reason=marker))

    def active(self, now: float) -> list[str]:
        return list(dict.fromkeys(str(r.deployment) for r in self.service.due()))

    def advance(self, deployment: str, now: float) -> RolloutChange:
        step = self.service.advance(deployment, now=now)
        rollout = step.rollout
        details = {
            "action": step.action,
            "rollout": rollout.id,
            "candidate": rollout.candidate,
            "step": rollout.step,
            "waiting_for": list(step.waiting_for),
        }
        return RolloutChange(deployment, bool(step.changed), str(rollout.state), details)


def start_reason(key: str) -> str:
    """The reason a trigger event's rollout is started with: how a retry recognises it."""
    return f"started by trigger event {key}"


def _snapshot(rollout: Any) -> dict[str, Any]:
    to_dict = getattr(rollout, "to_dict", None)
    summary = summarize(to_dict() if callable(to_dict) else rollout)
    return summary if isinstance(summary, dict) else {"rollout": summary}


def default_rollout_driver(client: Any) -> RolloutServiceDriver | None:
    """The driver over `client.rollouts`, or None where the rollout service is missing."""
    service = getattr(client, "rollouts", None)
    return None if service is None else RolloutServiceDriver(service)
