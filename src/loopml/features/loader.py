"""Find the definitions a Python module declares, for `loopml features apply MODULE`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from loopml.errors import NotFoundError, ValidationError
from loopml.features.definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)


def _import(target: str) -> ModuleType:
    path = Path(target)
    if target.endswith(".py"):
        if not path.is_file():
            raise NotFoundError(f"no Python file {target}")
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # its on-demand functions import by module name
        return importlib.import_module(path.stem)
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise NotFoundError(
            f"cannot import {target!r}: {exc}; pass a .py file or a module importable from here"
        ) from exc


def load_definitions(target: str) -> list[Definition]:
    """Every Entity, FeatureView, OnDemandFeatureView and FeatureService at the top level of
    the module (a `.py` path or a dotted module name), in their order of definition."""
    module = _import(target)
    found: list[Definition] = [
        value
        for value in vars(module).values()
        if isinstance(value, Entity | FeatureView | OnDemandFeatureView | FeatureService)
    ]
    if not found:
        raise ValidationError(
            f"{target} defines no Entity, FeatureView, OnDemandFeatureView or FeatureService "
            "at its top level"
        )
    return found
