"""`RemoteClient.monitors`: monitors, results, reports and alerts over `loopml server`."""

from __future__ import annotations

import builtins
from typing import Any
from urllib.parse import quote

from loopml.monitoring.alerts import Alert, AlertRule
from loopml.monitoring.definition import Monitor, Source, Window
from loopml.monitoring.records import MonitorRun, StoredResult
from loopml.sdk.remote import ops_records as records
from loopml.sdk.remote.http import RemoteHttp
from loopml.store.paging import Page


def _name(name: str) -> str:
    return quote(str(name), safe="")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class RemoteAlerts:
    """`monitors.alerts` over HTTP."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http

    def list(
        self,
        monitor: str | None = None,
        state: str | None = None,
        *,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Alert]:
        params = _params(monitor=monitor, state=state, limit=max_results, page_token=page_token)
        found = self.http.call("GET", "/alerts", params=params)
        return Page([records.alert(a) for a in found["alerts"]], found.get("next_page_token"))

    def get(self, alert_id: str) -> Alert:
        return records.alert(self.http.call("GET", f"/alerts/{_name(alert_id)}"))

    def acknowledge(self, alert_id: str, *, comment: str | None = None) -> Alert:
        body = _params(comment=comment)
        found = self.http.call("POST", f"/alerts/{_name(alert_id)}/acknowledge", json=body)
        return records.alert(found)

    def resolve(self, alert_id: str, *, reason: str) -> Alert:
        body = {"reason": reason}
        return records.alert(
            self.http.call("POST", f"/alerts/{_name(alert_id)}/resolve", json=body)
        )


class RemoteMonitors:
    """`client.monitors` over HTTP: the same calls and records as `MonitorService`."""

    def __init__(self, http: RemoteHttp) -> None:
        self.http = http
        self.alerts = RemoteAlerts(http)

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
        rules: builtins.list[str | dict[str, Any] | AlertRule] = (),  # type: ignore[assignment]
        sinks: builtins.list[str] = (),  # type: ignore[assignment]
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
    ) -> Monitor:
        body = _params(
            name=name,
            source=None if source is None else str(source),
            feature_view=feature_view,
            reference=reference,
            columns=None if columns is None else list(columns),
            window=str(window) if isinstance(window, Window) else window,
            schedule=schedule,
            label_delay=label_delay,
            tests=tests,
            thresholds=thresholds,
            drift_share=drift_share,
            task=task,
            target=target,
            prediction=prediction,
            rules=[r.to_dict() if isinstance(r, AlertRule) else r for r in rules],
            sinks=list(sinks),
            replace=replace,
            calibrate=calibrate,
            false_alarm_rate=false_alarm_rate,
            seasonal=seasonal,
            resolve_after=resolve_after,
            min_class_rows=min_class_rows,
            time_basis=time_basis,
            max_lag=max_lag,
            max_age=max_age,
            max_behind=max_behind,
            estimate=estimate,
            estimate_reference=estimate_reference,
        )
        return records.monitor(self.http.call("POST", "/monitors", json=body))

    def get(self, name: str) -> Monitor:
        return records.monitor(self.http.call("GET", f"/monitors/{_name(name)}"))

    def list(self) -> builtins.list[Monitor]:
        found = self.http.call("GET", "/monitors")
        return [records.monitor(item) for item in found["monitors"]]

    def reference_of(self, name: str) -> str | None:
        found: str | None = self.http.call("GET", f"/monitors/{_name(name)}/reference")["reference"]
        return found

    def run(
        self, name: str, *, partial: bool = False, limit: int = 100
    ) -> builtins.list[MonitorRun]:
        body = {"partial": partial, "limit": limit}
        found = self.http.call("POST", f"/monitors/{_name(name)}/run", json=body)
        return [records.monitor_run(item) for item in found["runs"]]

    def results(
        self,
        name: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        newest_first: bool = False,
    ) -> Page[StoredResult]:
        params = _params(
            limit=max_results, page_token=page_token, newest_first=str(newest_first).lower()
        )
        found = self.http.call("GET", f"/monitors/{_name(name)}/results", params=params)
        items = [records.stored_result(item) for item in found["results"]]
        return Page(items, found.get("next_page_token"))

    def result(self, name: str, seq: int | None = None) -> StoredResult:
        found = self.http.call("GET", f"/monitors/{_name(name)}/result", params=_params(seq=seq))
        return records.stored_result(found)

    def report(self, name: str, seq: int | None = None, *, history: int = 30) -> str:
        params = _params(seq=seq, history=history)
        return self.http.request("GET", f"/monitors/{_name(name)}/report", params=params).text
