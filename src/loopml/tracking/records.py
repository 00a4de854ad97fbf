"""Read-only views of runs, as returned by lookups and searches."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from loopml.errors import ValidationError
from loopml.store.paging import Page

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class MetricPoint:
    step: int
    value: float
    timestamp: float


@dataclass(frozen=True)
class RunRecord:
    """A run with its params, latest metric values, tags and inputs."""

    id: str
    experiment: str
    name: str
    status: str
    start_time: float
    end_time: float | None
    parent_id: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff_digest: str | None = None
    environment_json: str | dict[str, Any] | None = field(default=None, repr=False)
    error: str | None = None
    created_by: str = ""
    deleted_at: float | None = None  # set while the run is deleted (lifecycle.py)

    @property
    def environment(self) -> dict[str, Any] | None:
        """Python, platform and packages of the run (decoded on first use: searches return
        hundreds of runs whose environment is rarely read)."""
        raw = self.environment_json
        if raw is None or isinstance(raw, dict):
            return raw
        decoded: dict[str, Any] = json.loads(raw)
        return decoded

    @property
    def uri(self) -> str:
        return "run:" + self.id.removeprefix("run-")

    @property
    def duration_s(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["environment"] = self.environment
        del data["environment_json"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The record `to_dict` described (as a remote client receives it)."""
        values = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
        values["environment_json"] = data.get("environment")
        return cls(**values)


_RECORD_FIELDS = frozenset(RunRecord.__dataclass_fields__) - {"environment_json"}


class RunList(Page[RunRecord]):
    """One page of search results; `next_page_token` is None on the last page."""

    def to_pandas(self) -> pd.DataFrame:
        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.id,
                "experiment": run.experiment,
                "name": run.name,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
            }
            row.update({f"params.{k}": v for k, v in run.params.items()})
            row.update({f"metrics.{k}": v for k, v in run.metrics.items()})
            row.update({f"tags.{k}": v for k, v in run.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def normalize_run_id(text: str) -> str:
    """`run:3f9c2a1b`, `run-3f9c2a1b` or `3f9c2a1b` → `run-3f9c2a1b`."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{text!r} is not a run id; write run:3f9c2a1b or run-3f9c2a1b")
    text = text.strip()
    if text.startswith("run:"):
        return "run-" + text[4:]
    if text.startswith("run-"):
        return text
    return "run-" + text
