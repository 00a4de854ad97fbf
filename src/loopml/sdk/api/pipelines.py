"""`client.pipelines`: the registered pipelines, their runs, and launching one by name.

Local: `loopml.controller.pipeline_runs.PipelineRunService`; remote:
`loopml.sdk.remote.pipelines`.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from loopml.controller import LaunchOutcome
from loopml.pipelines import PipelineRunSummary
from loopml.pipelines.catalog import RegisteredPipeline


class PipelinesAPI(Protocol):
    """Registered pipelines (admins register), their runs, and launches by name."""

    def list(self) -> builtins.list[RegisteredPipeline]: ...

    def register(self, name: str, import_path: str) -> RegisteredPipeline: ...

    def runs(
        self, pipeline: str | None = None, *, limit: int = 50
    ) -> builtins.list[PipelineRunSummary]: ...

    def launch(self, name: str, params: dict[str, Any] | None = None) -> LaunchOutcome: ...
