"""Objects named by import path, `"package.module:attr"`, as pipelines and triggers name them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from loopml.errors import NotFoundError, ValidationError


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
