"""A monitor's recorded results: what one window produced, as stored and as returned."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from loopml.monitoring.alerts import AlertChanges
from loopml.monitoring.results import WindowResult


@dataclass(frozen=True)
class StoredResult:
    """One window's result as recorded."""

    id: str
    monitor: str
    seq: int
    window: WindowResult
    status: str
    created_at: float

    @property
    def uri(self) -> str:
        return f"monitor:{self.monitor}#{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "monitor": self.monitor,
            "seq": self.seq,
            "status": self.status,
            "created_at": self.created_at,
            **self.window.to_dict(),
        }


@dataclass(frozen=True)
class MonitorRun:
    """What one window of a run produced."""

    result: StoredResult
    alerts: AlertChanges


def stored(row: Any) -> StoredResult:
    return StoredResult(
        id=row.id,
        monitor=row.monitor,
        seq=row.seq,
        window=WindowResult.from_dict(row.summary),
        status=row.status,
        created_at=row.created_at,
    )


def result_status(window: WindowResult) -> str:
    if window.freshness is not None and window.drift is None:
        return "freshness"
    if window.rows == 0:
        return "empty"
    if window.drift is None:
        return "no_drift_check"
    return window.drift.status


def json_safe(value: Any) -> Any:
    """NaN and infinities as None: JSON columns must hold valid JSON on every backend."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
