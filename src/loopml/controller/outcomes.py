"""Reading a pipeline's return value: the candidate it proposes and a JSON summary.

A pipeline names a candidate for rollout in one of three ways:

- a dict with `"model_version": "model:bikes/7"` (or a version object) and, optionally,
  `"passed": bool` (default True);
- an object with `.passed` and `.version` (a gate result);
- a model version object itself (anything with a `uri` starting `model:`), which passed.

Anything else names no candidate: the event succeeds and no rollout starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from loopml.controller.ports import Candidate
from loopml.errors import ValidationError
from loopml.uris import parse_model_ref

MAX_TEXT = 2000
MAX_ITEMS = 100
MAX_DEPTH = 6


def candidate_of(result: Any) -> Candidate | None:
    """The candidate a pipeline's result names, if any (ValidationError when malformed)."""
    if isinstance(result, dict):
        if "model_version" not in result:
            return None
        return Candidate(_model_uri(result["model_version"]), bool(result.get("passed", True)))
    if hasattr(result, "passed") and hasattr(result, "version"):
        return Candidate(_model_uri(result.version), bool(result.passed))
    uri = getattr(result, "uri", None)
    if isinstance(uri, str) and uri.startswith("model:"):
        return Candidate(_model_uri(uri), True)
    return None


def _model_uri(value: Any) -> str:
    text = getattr(value, "uri", value)
    if not isinstance(text, str):
        raise ValidationError(
            f"the pipeline's candidate must be a model version or a URI like model:bikes/7, "
            f"got {value!r}"
        )
    ref = parse_model_ref(text)
    if ref.version is None:
        raise ValidationError(
            f"the pipeline's candidate {text!r} is not a version: name one like model:bikes/7 "
            "(an alias can move before the rollout starts)"
        )
    return str(ref)


def summarize(value: Any, depth: int = 0) -> Any:
    """A small JSON-safe copy: numbers, text, lists and dicts kept (capped), objects as
    their URI, their dataclass fields or their repr, NaN and infinities as None."""
    if value is None or isinstance(value, bool | int | str):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return repr(value)[:MAX_TEXT]
    uri = getattr(value, "uri", None)
    if isinstance(uri, str):  # a version, a dataset, a run: its URI says it all
        return uri
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {str(k): summarize(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [summarize(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return repr(value)[:MAX_TEXT]
