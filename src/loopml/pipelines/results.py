"""What a pipeline run returns: per-step results, the pipeline's output, and the failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.errors import LoopmlError
from loopml.pipelines.context import PipelineClient
from loopml.pipelines.outputs import StoredOutput, load_output


@dataclass(frozen=True)
class StepResult:
    """One node of a pipeline run. `cached_from` names the run that computed a cached
    output; `status` is FINISHED, FAILED, or SKIPPED (not run because an upstream failed)."""

    name: str
    step: str
    status: str
    cache_key: str
    cached: bool = False
    run_id: str | None = None
    cached_from: str | None = None
    output: StoredOutput | None = None
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "step": self.step,
            "status": self.status,
            "cache_key": self.cache_key,
            "cached": self.cached,
            "run_id": self.run_id,
            "cached_from": self.cached_from,
            "output": None if self.output is None else self.output.to_dict(),
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }


@dataclass
class PipelineResult:
    """A finished (or failed) pipeline run. `output` is what the pipeline function returned,
    with every step output in it replaced by its value."""

    pipeline: str
    run_id: str
    status: str
    executor: str
    steps: dict[str, StepResult]
    output: Any = None
    _client: PipelineClient | None = field(default=None, repr=False, compare=False)

    @property
    def cached(self) -> list[str]:
        """Names of the steps whose output came from the cache."""
        return [name for name, s in self.steps.items() if s.cached]

    @property
    def executed(self) -> list[str]:
        """Names of the steps that ran (successfully or not) in this pipeline run."""
        return [n for n, s in self.steps.items() if not s.cached and s.status != "SKIPPED"]

    def value(self, step: str) -> Any:
        """The output of one step, loaded from where it is stored."""
        result = self.steps.get(step)
        if result is None:
            raise LoopmlError(
                f"pipeline {self.pipeline!r} has no step {step!r}: {list(self.steps)}"
            )
        if result.output is None or self._client is None:
            raise LoopmlError(f"step {step!r} of run {self.run_id} has no output ({result.status})")
        return load_output(self._client, result.output)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "status": self.status,
            "executor": self.executor,
            "steps": {n: s.to_dict() for n, s in self.steps.items()},
        }


class PipelineFailedError(LoopmlError):
    """A step raised: the pipeline run is FAILED. `result` holds every step's outcome."""

    def __init__(self, message: str, result: PipelineResult) -> None:
        super().__init__(message)
        self.result = result
