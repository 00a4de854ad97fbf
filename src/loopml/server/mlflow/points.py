"""MLflow's metrics (`{key, value, timestamp, step}` objects) as loopml points, each checked
as `log_metric` checks it.

A log-batch carries up to 1,000 metrics that repeat a few keys, and checking them one
object at a time in Python cost the server about as much as parsing the body. The batch the
stock client sends (every metric an object with a string key, a float value and integer
step and timestamp) is checked a column at a time instead: one pass per field in C-level
loops, each distinct key checked once. Anything else takes the item-by-item path, which
refuses the first bad metric with the reason, exactly as before.
"""

from __future__ import annotations

import math
import time
from itertools import repeat
from operator import methodcaller, truediv
from typing import Any

from loopml.errors import ValidationError
from loopml.server.mlflow.ids import to_seconds
from loopml.tracking.journal import Point
from loopml.validation import check_key, check_metric_value, check_step

_FLOAT = {float}
_INT = {int}
_MODEL_ID = methodcaller("get", "model_id")


def to_points(items: Any) -> list[Point]:
    """The points of MLflow's `metrics` list (times in seconds); ValidationError naming the
    first metric that is not a finite number with a valid key and step."""
    if not isinstance(items, list):
        raise ValidationError("metrics must be a list of {key, value, timestamp, step}")
    try:
        found = _by_columns(items)
    except (KeyError, TypeError):  # not all objects, or a field missing: item by item
        found = None
    return found if found is not None else _by_items(items)


def linked_to_models(items: Any) -> bool:
    """Whether any metric names a logged model (MLflow 3 sends copies of a run's metrics
    with the model's id when it logs a model: logged_models.drop_model_copies)."""
    if not isinstance(items, list):
        return False
    try:
        return any(map(_MODEL_ID, items))
    except (AttributeError, TypeError):  # some item is not an object
        return any(isinstance(m, dict) and m.get("model_id") for m in items)


def _by_columns(items: list[Any]) -> list[Point] | None:
    """The points when every field of every metric is of the common type and valid;
    None when any is not (the item-by-item path then finds which)."""
    keys = [m["key"] for m in items]
    values = [m["value"] for m in items]
    steps = [m["step"] for m in items]
    stamps = [m["timestamp"] for m in items]
    if not keys:
        return []
    # A float sum is finite only when every value is (NaN and infinities propagate); a sum
    # that overflows sends the batch to the item-by-item path, which accepts it.
    if set(map(type, values)) != _FLOAT or not math.isfinite(sum(values)):
        return None
    if set(map(type, steps)) != _INT or min(steps) < 0:
        return None
    if set(map(type, stamps)) != _INT or min(stamps) < 0:
        return None
    for key in set(keys):  # TypeError for an unhashable key: item by item
        if type(key) is not str:
            return None
        check_key("metric", key)
    seconds = list(map(truediv, stamps, repeat(1000.0)))
    return list(zip(keys, values, steps, seconds, strict=True))


def _by_items(items: list[Any]) -> list[Point]:
    keys: set[str] = set()
    now = time.time()
    points: list[Point] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValidationError("each metric must be an object with key, value, timestamp, step")
        raw_key = item.get("key")
        key: str = (
            raw_key if type(raw_key) is str and raw_key in keys else check_key("metric", raw_key)
        )
        keys.add(key)
        value = item.get("value")
        if type(value) is not float or not math.isfinite(value):
            value = check_metric_value(key, _number(value, key))
        step = item.get("step") or 0
        if type(step) is not int or step < 0:
            step = check_step(key, _integer(step, f"step of metric {key!r}"))
        stamp = item.get("timestamp")
        if type(stamp) is int and stamp >= 0:
            seconds = stamp / 1000.0
        else:
            seconds = now if stamp is None else to_seconds(stamp, f"timestamp of metric {key!r}")
        points.append((key, value, step, seconds))
    return points


def _integer(value: Any, what: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be an integer, got {value!r}") from None


def _number(value: Any, key: str) -> Any:
    """MLflow writes NaN and infinities as strings; loopml refuses them with a reason."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValidationError(f"metric {key!r} has value {value!r}, not a number") from None
    return value
