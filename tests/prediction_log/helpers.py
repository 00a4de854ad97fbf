"""Record builders shared by the prediction log tests."""

from __future__ import annotations

from typing import Any

from loopml.prediction_log import PredictionRecord

DAY = 86_400.0
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def rec(
    request_id: str, *, at: float = T0, shadow: bool = False, **kwargs: Any
) -> PredictionRecord:
    """A one-row record of the `bikes` deployment, fields overridable."""
    fields: dict[str, Any] = {
        "deployment": "bikes",
        "request_id": request_id,
        "model": "model:bikes/3",
        "inputs": [{"temp": 12.5, "hour": 8}],
        "outputs": [231.0],
        "probabilities": None,
        "latency_ms": 1.5,
        "shadow": shadow,
        "at": at,
    }
    fields.update(kwargs)
    return PredictionRecord(**fields)
