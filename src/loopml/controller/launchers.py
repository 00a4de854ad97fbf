"""Launching what a trigger names — a registered `loopml.pipelines` pipeline, or a
registered plain function of the project (see `loopml.pipelines.catalog`).

`PipelineRunLauncher` (the controller's default) runs a `Pipeline` through `Pipeline.run`,
whose cached steps let a relaunch after a crash skip the completed ones; any other target
goes to `FunctionLauncher`. Either is called with the trigger's params as keyword
arguments, plus `client` and `trigger` when its signature declares them. Its return value
is the outcome: see `outcomes.py`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from loopml.controller.outcomes import candidate_of, summarize
from loopml.controller.ports import FAILED, SUCCEEDED, ControllerClient, LaunchOutcome
from loopml.controller.trigger_records import RESERVED_PARAM
from loopml.errors import LoopmlError, ValidationError
from loopml.pipelines import Pipeline, PipelineFailedError, PipelineResult
from loopml.pipelines.catalog import PipelineCatalog

log = logging.getLogger("loopml.controller")


def accepts(function: Callable[..., Any], name: str) -> bool:
    """Whether `function` takes a keyword argument `name` (by name or through **kwargs)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        or p.kind == p.VAR_KEYWORD
        for p in parameters
    )


def call_arguments(
    function: Callable[..., Any], params: dict[str, Any], client: ControllerClient
) -> dict[str, Any]:
    """The params, with `trigger` and `client` only for a function that declares them."""
    arguments = {k: v for k, v in params.items() if k != RESERVED_PARAM}
    if RESERVED_PARAM in params and accepts(function, RESERVED_PARAM):
        arguments[RESERVED_PARAM] = params[RESERVED_PARAM]
    if "client" not in arguments and accepts(function, "client"):
        arguments["client"] = client
    return arguments


def outcome_of(result: Any, pipeline_run_id: str | None = None) -> LaunchOutcome:
    """A succeeded outcome for a return value (failed when its candidate is malformed)."""
    try:
        candidate = candidate_of(result)
    except ValidationError as exc:
        return LaunchOutcome(FAILED, pipeline_run_id, summarize(result), error=str(exc))
    return LaunchOutcome(SUCCEEDED, pipeline_run_id, summarize(result), candidate)


def failure(exc: BaseException, target: str) -> LaunchOutcome:
    """A failed outcome that says what went wrong (the traceback goes to the log)."""
    if not isinstance(exc, LoopmlError):
        log.error("pipeline %s failed", target, exc_info=exc)
    return LaunchOutcome(FAILED, error=f"{type(exc).__name__}: {exc}")


class FunctionLauncher:
    """Calls a registered plain function (`catalog.py`) with the params in this process; the
    return value is the outcome.

    A plain function has no step cache: to resume after a crash without repeating work, it
    keeps its own record of what it finished (keyed by `trigger["event"]`), or it is a
    `loopml.pipelines` pipeline, whose steps are cached.
    """

    def launch(
        self, target: str, params: dict[str, Any], *, client: ControllerClient, key: str
    ) -> LaunchOutcome:
        try:
            function, _ = PipelineCatalog(client.stores).load(target)
        except Exception as exc:
            return failure(exc, target)
        if isinstance(function, Pipeline):
            return PipelineRunLauncher().launch(target, params, client=client, key=key)
        return self.call(function, target, params, client)

    def call(
        self,
        function: Callable[..., Any],
        target: str,
        params: dict[str, Any],
        client: ControllerClient,
    ) -> LaunchOutcome:
        try:
            result = function(**call_arguments(function, params, client))
        except Exception as exc:  # the pipeline's failure is its outcome, not the controller's
            return failure(exc, target)
        return outcome_of(result)


class PipelineRunLauncher:
    """Runs registered `loopml.pipelines` pipelines through `Pipeline.run` (cached steps: a
    relaunch after a crash skips the completed ones); a registered plain function is called.
    Anything not registered, or whose code changed since, is refused (`catalog.py`)."""

    def __init__(self) -> None:
        self.functions = FunctionLauncher()

    def launch(
        self, target: str, params: dict[str, Any], *, client: ControllerClient, key: str
    ) -> LaunchOutcome:
        try:
            found, _ = PipelineCatalog(client.stores).load(target)
        except Exception as exc:
            return failure(exc, target)
        if not isinstance(found, Pipeline):
            return self.functions.call(found, target, params, client)
        try:
            run = _run_pipeline(found, params, client)
        except PipelineFailedError as exc:  # a step failed: the run it recorded is the outcome
            return LaunchOutcome(FAILED, exc.result.run_id, error=failure(exc, target).error)
        except Exception as exc:
            return failure(exc, target)
        return outcome_of(run.output, run.run_id)


def _run_pipeline(
    pipeline: Pipeline, params: dict[str, Any], client: ControllerClient
) -> PipelineResult:
    """`Pipeline.run(client, **params)`; whether the pipeline takes `trigger` is read from
    the decorated function's signature (its client is the one the run is given)."""
    arguments = call_arguments(pipeline.fn, params, client)
    arguments.pop("client", None)
    return pipeline.run(client, **arguments)
