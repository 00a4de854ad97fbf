"""`PipelineRunService`: the registered pipelines, their runs, and launching one by name.

Launching goes through the same catalog and launcher as a trigger's event: only a
pipeline an admin registered (by its name, never a `module:attr` the caller makes up), and
only while its code is the code that was registered. The launch runs in the caller's
process — the server's, in remote mode — and its outcome is returned and audited.
"""

from __future__ import annotations

import builtins
from typing import Any

from loopml.controller.launchers import PipelineRunLauncher
from loopml.controller.ports import ControllerClient, LaunchOutcome
from loopml.controller.trigger_records import check_json
from loopml.errors import ValidationError
from loopml.governance import append_event, require
from loopml.pipelines import PipelineRunSummary, list_pipeline_runs
from loopml.pipelines.catalog import PipelineCatalog, RegisteredPipeline
from loopml.store import new_id
from loopml.validation import check_name


class PipelineRunService:
    """List, register (admins) and launch registered pipelines; list pipeline runs."""

    def __init__(self, client: ControllerClient) -> None:
        self.client = client
        self.stores = client.stores
        self.catalog = PipelineCatalog(client.stores)

    def list(self) -> builtins.list[RegisteredPipeline]:
        """The pipelines triggers (and `launch`) may run."""
        return self.catalog.list()

    def register(self, name: str, import_path: str) -> RegisteredPipeline:
        """Register `import_path` (project code) as `name`, pinning its code (admins)."""
        return self.catalog.register(name, import_path)

    def runs(
        self, pipeline: str | None = None, *, limit: int = 50
    ) -> builtins.list[PipelineRunSummary]:
        """Pipeline runs, newest first, with their step counts."""
        return list_pipeline_runs(self.stores, pipeline, limit=limit)

    def launch(self, name: str, params: dict[str, Any] | None = None) -> LaunchOutcome:
        """Run the pipeline registered as `name` with `params`, to its end; a failed step is
        an outcome with status `failed`, not an exception."""
        actor = self.stores.actor
        require(actor, "write", "launch pipelines")
        if not isinstance(name, str) or ":" in name:
            raise ValidationError(
                f"launch a registered pipeline by its name, not {name!r}; `loopml pipeline "
                "list` shows them, and an admin registers more with `loopml pipeline register`"
            )
        check_name("pipeline", name)
        params = dict(params or {})
        check_json("pipeline params", params)
        record = self.catalog.get(name)  # refused unless registered
        key = new_id("launch")
        outcome = PipelineRunLauncher().launch(record.name, params, client=self.client, key=key)
        with self.stores.engine.begin() as conn:
            append_event(
                conn,
                actor,
                "pipeline.launch",
                f"pipeline:{record.name}",
                {
                    "params": params,
                    "status": outcome.status,
                    "pipeline_run_id": outcome.pipeline_run_id,
                    "error": outcome.error,
                },
            )
        return outcome
