"""Finding a pipeline by import path, as the CLI and the controller name it.

`"package.module:attr"` imports `package.module` and takes `attr` (dots walk attributes),
which must be a `@pipeline`. The current folder is importable, like `python -m` does.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from loopml.errors import NotFoundError, ValidationError
from loopml.pipelines.context import PipelineClient
from loopml.pipelines.definition import Pipeline
from loopml.pipelines.results import PipelineResult


def resolve_import_path(path: str, what: str = "pipeline") -> Any:
    """The object `"package.module:attr"` names (the current folder is importable)."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ValidationError(
            f"a {what} is named 'package.module:attr' (e.g. 'bikes.pipelines:train'), got {path!r}"
        )
    module_name, attr = (part.strip() for part in path.split(":"))
    if not module_name or not attr:
        raise ValidationError(f"both the module and the attribute are needed in {path!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotFoundError(
            f"cannot import {module_name!r} for {what} {path!r}: {exc}; run from the folder "
            "that holds the package, or install it"
        ) from exc
    for part in attr.split("."):
        if not hasattr(target, part):
            raise NotFoundError(f"{module_name} has no attribute {attr!r} ({what} {path!r})")
        target = getattr(target, part)
    return target


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
