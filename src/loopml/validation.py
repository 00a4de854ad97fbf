"""Checks shared by every entry point; each failure names the argument and the fix."""

from __future__ import annotations

import math
import re
from numbers import Real
from typing import Any

from loopml.errors import ValidationError

MAX_KEY_LEN = 250
MAX_VALUE_LEN = 6000
MAX_NAME_LEN = 128

#: The shapes as regular expressions, for schemas that describe these checks (OpenAPI).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
KEY_PATTERN = r"^[A-Za-z0-9_\-./:]([A-Za-z0-9_\-./: ]*[A-Za-z0-9_\-./:])?$"
_KEY = re.compile(r"^[A-Za-z0-9_\-./: ]+$")
_NAME = re.compile(NAME_PATTERN)


def check_key(kind: str, key: Any) -> str:
    """A param, metric or tag key: 1-250 characters of letters, digits, `_-./: `."""
    if not isinstance(key, str):
        raise ValidationError(f"{kind} key must be a string, got {type(key).__name__} {key!r}")
    if not key or len(key) > MAX_KEY_LEN:
        raise ValidationError(
            f"{kind} key must have 1 to {MAX_KEY_LEN} characters, got {len(key)}: {key[:40]!r}…"
            if key
            else f"{kind} key must not be empty"
        )
    if not _KEY.match(key) or key != key.strip():
        raise ValidationError(
            f"{kind} key {key!r} may only use letters, digits, spaces and _ - . / : "
            "(and may not start or end with a space)"
        )
    return key


def check_name(kind: str, name: Any) -> str:
    """An object name (experiment, dataset): starts alphanumeric; letters, digits, _ . -"""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{kind} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LEN or not _NAME.match(name):
        raise ValidationError(
            f"{kind} name {name!r} is invalid: use at most {MAX_NAME_LEN} letters, digits, "
            "'_', '.' or '-', starting with a letter or digit"
        )
    return name


def check_metric_value(key: str, value: Any) -> float:
    """A finite real number (bools are refused: they are almost always a bug)."""
    if type(value) is float and math.isfinite(value):  # the common case, without the ABC
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValidationError(
            f"metric {key!r} must be a real number, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValidationError(
            f"metric {key!r} is {number}: log finite values only (check for a diverged loss "
            "or a division by zero)"
        )
    return number


def check_step(key: str, step: Any) -> int:
    if type(step) is int and step >= 0:  # the common case (a bool's type is not int)
        return step
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValidationError(f"step of metric {key!r} must be an integer ≥ 0, got {step!r}")
    return step


def check_text_value(kind: str, key: str, value: Any) -> str:
    """A param or tag value: str, int, float, bool or None, at most 6000 characters."""
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ValidationError(
            f"{kind} {key!r} must be a string, number, bool or None, got {type(value).__name__}; "
            "convert it (e.g. json.dumps) first"
        )
    text = "None" if value is None else str(value)
    if len(text) > MAX_VALUE_LEN:
        raise ValidationError(
            f"{kind} {key!r} is {len(text)} characters long; the limit is {MAX_VALUE_LEN} "
            "(log long values as a text artifact instead)"
        )
    return text
