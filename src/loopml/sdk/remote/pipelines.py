"""`RemoteClient.pipelines`: registered pipelines, their runs, and launches by name, over
`loopml server` (a launch runs on the server)."""

from __future__ import annotations

import builtins
from typing import Any

from loopml.controller import LaunchOutcome
from loopml.pipelines import PipelineRunSummary
from loopml.pipelines.catalog import RegisteredPipeline
from loopml.sdk.remote import ops_records as records
from loopml.sdk.remote.http import RemoteHttp


class RemotePipelines:
    """`client.pipelines` over HTTP: launches run on the server, by registered name."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def list(self) -> builtins.list[RegisteredPipeline]:
        found = self.http.call("GET", "/pipelines")
        return [records.registered_pipeline(item) for item in found["pipelines"]]

    def register(self, name: str, import_path: str) -> RegisteredPipeline:
        body = {"name": name, "import_path": import_path}
        return records.registered_pipeline(self.http.call("POST", "/pipelines", json=body))

    def runs(
        self, pipeline: str | None = None, *, limit: int = 50
    ) -> builtins.list[PipelineRunSummary]:
        params: dict[str, Any] = {"limit": limit}
        if pipeline is not None:
            params["pipeline"] = pipeline
        found = self.http.call("GET", "/pipeline-runs", params=params)
        return [records.pipeline_run(item) for item in found["pipeline_runs"]]

    def launch(self, name: str, params: dict[str, Any] | None = None) -> LaunchOutcome:
        body = {"pipeline": name, "params": dict(params or {})}
        return records.launch_outcome(self.http.call("POST", "/pipeline-runs", json=body))
