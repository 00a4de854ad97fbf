"""`client.monitors`: monitors, their results and reports, and their alerts.

Local: `loopml.monitoring.MonitorService`; remote: `loopml.sdk.remote.monitors`.
"""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from loopml.monitoring.alerts import Alert, AlertRule
from loopml.monitoring.definition import Monitor, Source, Window
from loopml.monitoring.records import MonitorRun, StoredResult
from loopml.store.paging import Page


class AlertsAPI(Protocol):
    """Alerts the monitors opened, newest first; acknowledged or resolved by hand."""

    def list(
        self,
        monitor: str | None = None,
        state: str | None = None,
        *,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Alert]: ...

    def get(self, alert_id: str) -> Alert: ...

    def acknowledge(self, alert_id: str, *, comment: str | None = None) -> Alert: ...

    def resolve(self, alert_id: str, *, reason: str) -> Alert: ...


class MonitorsAPI(Protocol):
    """Declare monitors, run them now, read their results and reports."""

    @property
    def alerts(self) -> AlertsAPI: ...

    def create(
        self,
        name: str,
        source: str | Source | None = None,
        *,
        feature_view: str | None = None,
        reference: str | None = None,
        columns: builtins.list[str] | None = None,
        window: str | int | Window = "1000 rows",
        schedule: str | float | None = None,
        label_delay: str | float | None = None,
        tests: dict[str, str] | None = None,
        thresholds: dict[str, float] | None = None,
        drift_share: float = 0.5,
        task: str | None = None,
        target: str | None = None,
        prediction: str | None = None,
        rules: builtins.list[str | dict[str, Any] | AlertRule] = ...,
        sinks: builtins.list[str] = ...,
        replace: bool = False,
        calibrate: str = "reference",
        false_alarm_rate: float = 0.05,
        seasonal: str | None = None,
        resolve_after: int = 2,
        min_class_rows: int = 30,
        time_basis: str = "arrival",
        max_lag: str | float | None = None,
        max_age: str | float | None = None,
        max_behind: str | float | None = None,
        estimate: bool = False,
        estimate_reference: str | None = None,
    ) -> Monitor: ...

    def get(self, name: str) -> Monitor: ...

    def list(self) -> builtins.list[Monitor]: ...

    def reference_of(self, name: str) -> str | None: ...

    def run(
        self, name: str, *, partial: bool = False, limit: int = 100
    ) -> builtins.list[MonitorRun]: ...

    def results(
        self,
        name: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        newest_first: bool = False,
    ) -> Page[StoredResult]: ...

    def result(self, name: str, seq: int | None = None) -> StoredResult: ...

    def report(self, name: str, seq: int | None = None, *, history: int = 30) -> str: ...
