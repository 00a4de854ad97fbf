"""What the pipeline layer needs from a client, and which step run is executing now.

The pipeline layer sits below the SDK, so it names the client by the services it uses (a
structural `Protocol`) instead of importing `loopml.sdk.Client`. Worker processes rebuild a
client of the same class from its `settings` (`type(client)(settings)`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from loopml.config.settings import Settings
from loopml.data import DatasetService, DatasetVersion
from loopml.errors import ValidationError
from loopml.registry import ApprovalRequest, ApprovalService, EvaluationService, RegistryService
from loopml.registry.records import ModelVersion
from loopml.store import Stores
from loopml.tracking import Run, TrackingService


class ModelsLike(Protocol):
    registry: RegistryService
    evaluations: EvaluationService
    approvals: ApprovalService

    def register(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model",
        *,
        description: str | None = None,
        card: dict[str, Any] | None = None,
    ) -> ModelVersion: ...

    def request(
        self, ref: str, alias: str = "champion", reason: str | None = None
    ) -> ApprovalRequest: ...


class PipelineClient(Protocol):
    """The services of `loopml.Client` that pipelines use."""

    settings: Settings
    stores: Stores
    tracking: TrackingService
    dataset_service: DatasetService  # the service itself: pins, cache checks, overlaps

    @property
    def models(self) -> ModelsLike: ...

    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Iterable[DatasetVersion | str] | None = None,
        nested: bool = False,
        parent: Run | str | None = None,
        capture_code: bool = True,
    ) -> Run: ...

    def close(self) -> None: ...


_current: contextvars.ContextVar[tuple[PipelineClient, Run] | None] = contextvars.ContextVar(
    "loopml_current_step", default=None
)


@contextmanager
def executing(client: PipelineClient, run: Run) -> Iterator[None]:
    token = _current.set((client, run))
    try:
        yield
    finally:
        _current.reset(token)


def current_run() -> Run:
    """The child run of the step executing now: log metrics, artifacts and models to it."""
    found = _current.get()
    if found is None:
        raise ValidationError("current_run() works only inside a step that a pipeline is executing")
    return found[1]


def current_client() -> PipelineClient:
    """The client the executing step runs with (in a worker: one on the same workspace)."""
    found = _current.get()
    if found is None:
        raise ValidationError(
            "current_client() works only inside a step that a pipeline is executing"
        )
    return found[0]


def executing_client() -> PipelineClient | None:
    """The executing step's client, or None outside a step."""
    found = _current.get()
    return None if found is None else found[0]


def executing_run() -> Run | None:
    """The executing step's run, or None outside a step."""
    found = _current.get()
    return None if found is None else found[1]
