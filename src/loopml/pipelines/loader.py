"""Finding a pipeline by import path, as the CLI and the controller name it.

`"package.module:attr"` imports `package.module` and takes `attr` (dots walk attributes),
which must be a `@pipeline`. The current folder is importable, like `python -m` does.
"""

from __future__ import annotations

from typing import Any

from loopml.errors import ValidationError
from loopml.import_paths import resolve_import_path
from loopml.pipelines.context import PipelineClient
from loopml.pipelines.definition import Pipeline
from loopml.pipelines.results import PipelineResult


def load_pipeline(path: str) -> Pipeline:
    """The `Pipeline` at `"package.module:attr"`."""
    target = resolve_import_path(path)
    if not isinstance(target, Pipeline):
        raise ValidationError(
            f"{path} is a {type(target).__name__}, not a pipeline; decorate it with @pipeline"
        )
    return target


def run_pipeline(
    path: str,
    client: PipelineClient,
    *,
    params: dict[str, Any] | None = None,
    executor: str = "local",
    max_workers: int | None = None,
) -> PipelineResult:
    """Load the pipeline at `path` and run it: the controller's entry point."""
    if params is not None and not isinstance(params, dict):
        raise ValidationError(f"params must be a dict, got {type(params).__name__}")
    return load_pipeline(path).run(
        client, executor=executor, max_workers=max_workers, **(params or {})
    )
