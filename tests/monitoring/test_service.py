"""Monitors over a real deployment's prediction log: windows, verdicts, alerts, edge cases."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.governance.audit import list_events, verify_chain
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.samples import FEATURES, split_by_months
from loopml.sdk import Client
from tests.monitoring.conftest import T0, Deployed, deploy_bikes

HOUR = 3600.0


def test_create_finds_reference_and_columns_through_lineage(deployed: Deployed) -> None:
    monitors = deployed.client.monitors
    monitor = monitors.create("drift", "deployment:bikes-api", window="100 rows")
    assert monitor.reference is None  # resolved at run time: follows the serving model
    reference = monitors.evaluator.reference(monitor)
    assert reference.dataset.uri == deployed.training.uri
    assert monitors.evaluator.columns(monitor, reference) == list(FEATURES)
    assert [m.name for m in monitors.list()] == ["drift"]
    assert monitors.get("drift").config.window.rows == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": "ten rows"}, "duration"),
        ({"window": "0 rows"}, "≥ 1"),
        ({"drift_share": 1.5}, "drift_share"),
        ({"task": "ranking"}, "task"),
        ({"schedule": "-1h"}, "duration"),
        ({"reference": "nope@1"}, "nope"),
        ({"columns": []}, "columns"),
        ({"tests": {"temp": "t-test"}}, "t-test"),
        ({"thresholds": {"*": -1.0}}, "threshold"),
        ({"rules": ["metric_below:r2"]}, "metric_below"),
        ({"sinks": ["webhook:ftp://x"]}, "webhook"),
    ],
)
def test_create_rejects_bad_options(deployed: Deployed, kwargs: dict, message: str) -> None:
    with pytest.raises((ValidationError, NotFoundError), match=message):
        deployed.client.monitors.create("m", "deployment:bikes-api", **kwargs)
    assert deployed.client.monitors.list() == []  # nothing half-created


def test_unknown_source_duplicate_name_and_replace(deployed: Deployed) -> None:
    monitors = deployed.client.monitors
    with pytest.raises(NotFoundError, match="no-such"):
        monitors.create("m", "deployment:no-such")
    with pytest.raises(NotFoundError, match="no versions"):
        monitors.create("m", "dataset:no-such")
    with pytest.raises(ValidationError, match="deployment:NAME or dataset:NAME"):
        monitors.create("m", "model:bikes")
    monitors.create("m", "bikes-api")
    with pytest.raises(ConflictError, match="already exists"):
        monitors.create("m", "bikes-api")
    replaced = monitors.create("m", "bikes-api", window="1h", replace=True)
    assert replaced.config.window.seconds == 3600.0
    with pytest.raises(NotFoundError, match="no monitor named"):
        monitors.run("unknown")


def test_count_windows_are_processed_once_in_order(deployed: Deployed, bikes: pd.DataFrame) -> None:
    monitors = deployed.client.monitors
    monitors.create("drift", "deployment:bikes-api", window="100 rows")
    deployed.replay(split_by_months(bikes, [2]).iloc[:250])
    runs = monitors.run("drift")
    assert [r.result.seq for r in runs] == [1, 2]
    assert [r.result.window.rows for r in runs] == [100, 100]
    assert monitors.run("drift") == []  # 50 rows left: not a complete window
    [partial] = monitors.run("drift", partial=True)
    assert partial.result.window.rows == 50
    first = runs[0].result.window
    assert first.drift is not None and first.performance is not None
    assert first.performance.labelled_rows == 100 and first.performance.metrics["r2"] is not None
    assert first.latency and first.latency[0].requests == 100
    assert [r.seq for r in monitors.results("drift")] == [1, 2, 3]
    assert monitors.result("drift").seq == 3
    assert monitors.result("drift", 1).window.label == first.label


def test_requests_are_never_split_across_count_windows(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("drift", "bikes-api", window="25 rows")
    deployed.replay(split_by_months(bikes, [2]).iloc[:100], rows_per_request=10)
    runs = monitors.run("drift")
    assert [r.result.window.rows for r in runs] == [30, 30, 30]  # whole requests only
    [rest] = monitors.run("drift", partial=True)
    assert rest.result.window.rows == 10


def test_summer_drift_and_accuracy_drop_open_then_resolve_alerts(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create(
        "drift",
        "bikes-api",
        window="200 rows",
        rules=["dataset_drift", "column_drift:temp", "metric_below:r2:0.3"],
        calibrate="fixed",  # Evidently's thresholds: this story is about them
        resolve_after=1,
    )
    winter_sample = split_by_months(bikes, [1, 2]).sample(400, random_state=1)
    deployed.replay(winter_sample.iloc[:200], start=T0)
    deployed.replay(split_by_months(bikes, [7]).iloc[:400], start=T0 + 1000)
    deployed.replay(winter_sample.iloc[200:], start=T0 + 2000)
    winter, summer1, summer2, back = monitors.run("drift")
    assert winter.result.window.drift.dataset_drift is False
    assert not winter.alerts.opened
    drift = summer1.result.window.drift
    assert drift.dataset_drift is True
    assert drift.column("temp").drift is True and drift.column("month").drift is True
    assert (
        summer1.result.window.performance.metrics["r2"]
        < winter.result.window.performance.metrics["r2"]
    )
    opened = {a.rule for a in summer1.alerts.opened}
    assert {"dataset_drift", "column_drift:temp"} <= opened
    assert not summer2.alerts.opened  # the same episode: deduplicated
    open_alerts = monitors.alerts.list(monitor="drift", state="open")
    assert all(a.occurrences == 2 for a in open_alerts if a.rule == "dataset_drift")
    assert back.alerts.resolved and not monitors.alerts.list(monitor="drift", state="open")


def test_prediction_drift_is_reported_against_the_scored_reference(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("drift", "bikes-api", window="300 rows")
    deployed.replay(split_by_months(bikes, [7]).iloc[:300])
    [run] = monitors.run("drift")
    prediction = run.result.window.drift.column("prediction")
    assert prediction.is_prediction and prediction.drift is True
    assert "reference" in (prediction.message or "")


def test_time_windows_collapse_gaps_and_wait_for_completion(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("hourly", "bikes-api", window="1h")
    feb = split_by_months(bikes, [2])
    deployed.replay(feb.iloc[:60], start=T0, step=60)  # hour 0
    deployed.replay(feb.iloc[60:120], start=T0 + 5 * HOUR, step=60)  # hour 5
    runs = monitors.run("hourly", now=T0 + 5 * HOUR + 10)
    assert [(r.result.window.start, r.result.window.end, r.result.window.rows) for r in runs] == [
        (T0, T0 + HOUR, 60),
        (T0 + HOUR, T0 + 5 * HOUR, 0),  # the quiet stretch, recorded once as empty
    ]
    assert runs[1].result.status == "empty"
    assert runs[1].result.window.drift is None or runs[1].result.window.drift.dataset_drift is None
    assert monitors.run("hourly", now=T0 + 5 * HOUR + 20) == []  # hour 5 is not over
    [late] = monitors.run("hourly", now=T0 + 6 * HOUR)
    assert late.result.window.rows == 60


def test_empty_window_unlabelled_and_missing_columns_are_recorded_not_hidden(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("m", "bikes-api", window="50 rows", columns=["temp", "humidity_x"])
    [empty] = monitors.run("m", partial=True, now=T0 - 10)  # before any traffic
    assert empty.result.status == "empty" and empty.result.window.rows == 0
    drift = empty.result.window.drift
    assert drift is None or drift.dataset_drift is None
    deployed.replay(split_by_months(bikes, [2]).iloc[:50], labels=False)
    [window] = monitors.run("m")
    drift = window.result.window.drift
    assert (
        drift.column("humidity_x").status == "missing" and drift.column("humidity_x").drift is None
    )
    assert drift.column("temp").drift is not None
    assert window.result.window.performance.status == "no_labels"
    assert window.result.window.performance.metrics == {}


def test_concurrent_runners_record_each_window_once(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("m", "bikes-api", window="50 rows")
    deployed.replay(split_by_months(bikes, [2]).iloc[:200])
    done: list[int] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            done.extend(r.result.seq for r in monitors.run("m"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    results = monitors.results("m")
    assert [r.seq for r in results] == [1, 2, 3, 4]
    assert [r.window.rows for r in results] == [50, 50, 50, 50]
    assert len({r.window.start for r in results}) == 4
    assert sorted(done) == [1, 2, 3, 4]


def test_dataset_source_compares_each_new_version(client: Client, bikes: pd.DataFrame) -> None:
    columns = ["temp", "hum", "windspeed", "hr", "weathersit"]
    for months in ([1], [2], [7]):
        client.log_dataset("monthly", split_by_months(bikes, months)[columns])
    monitors = client.monitors
    monitors.create("monthly", "dataset:monthly", rules=["dataset_drift"])
    runs = monitors.run("monthly")
    assert [r.result.window.label for r in runs] == ["dataset:monthly@2", "dataset:monthly@3"]
    assert runs[1].result.window.drift.column("temp").drift is True
    assert runs[1].result.window.drift.column("weathersit").kind == "categorical"
    assert monitors.run("monthly") == []
    client.log_dataset("monthly", split_by_months(bikes, [1])[columns].iloc[::-1])
    [again] = monitors.run("monthly")
    assert again.result.window.drift.dataset_drift is False
    assert again.alerts.clearing and not again.alerts.resolved  # one clean window of two
    client.log_dataset("monthly", split_by_months(bikes, [1])[columns].iloc[::2])
    [clean] = monitors.run("monthly")
    assert clean.result.window.drift.dataset_drift is False and clean.alerts.resolved


def test_scheduled_monitors_run_when_due(deployed: Deployed, bikes: pd.DataFrame) -> None:
    monitors = deployed.client.monitors
    monitors.create("sched", "bikes-api", window="50 rows", schedule="10m")
    monitors.create("manual", "bikes-api", window="50 rows")
    deployed.replay(split_by_months(bikes, [2]).iloc[:50])
    now = time.time()
    ran = monitors.run_due(now=now)
    assert list(ran) == ["sched"] and len(ran["sched"]) == 1
    assert monitors.run_due(now=now + 20) == {}  # next run in 10 minutes
    assert list(monitors.run_due(now=now + 600)) == ["sched"]
    assert monitors.get("sched").next_run_at == now + 1200


def test_results_are_audited_and_reports_render(deployed: Deployed, bikes: pd.DataFrame) -> None:
    monitors = deployed.client.monitors
    monitors.create("m", "bikes-api", window="100 rows")
    deployed.replay(split_by_months(bikes, [7]).iloc[:200])
    monitors.run("m")
    actions = [e.action for e in list_events(deployed.client.stores.engine)]
    assert "monitor.create" in actions and actions.count("monitor.result") == 2
    assert verify_chain(deployed.client.stores.engine).ok
    html = monitors.report("m")
    assert "<html" in html and "temp" in html and len(html) < 2_000_000
    with pytest.raises(NotFoundError, match="no result #9"):
        monitors.report("m", 9)


def test_viewers_may_read_but_not_create_or_run(deployed: Deployed) -> None:
    client = deployed.client
    client.monitors.create("m", "bikes-api")
    identity = client.models.identity
    identity.create_principal("vera", "viewer")
    client.login(identity.create_token("vera"))
    assert [m.name for m in client.monitors.list()] == ["m"]
    with pytest.raises(PermissionDeniedError):
        client.monitors.create("m2", "bikes-api")
    with pytest.raises(PermissionDeniedError):
        client.monitors.run("m")


def test_failed_requests_count_in_latency_not_in_drift(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("m", "bikes-api", window="20 rows")
    deployed.replay(split_by_months(bikes, [2]).iloc[:20])
    with PredictionLog(deployed.client.stores) as errors:
        for i in range(5):
            errors.record(
                PredictionRecord(
                    deployment="bikes-api",
                    request_id=f"bad-{i}",
                    model="bikes/1",
                    inputs=[],
                    outputs=[],
                    probabilities=None,
                    latency_ms=0.5,
                    at=T0 + 5 + i,
                    status=422,
                )
            )
    [run] = monitors.run("m")
    assert run.result.window.rows == 20
    overall = run.result.window.latency[0]
    assert overall.requests == 25 and overall.errors == 5


def test_windows_verdicts_and_alerts_on_every_backend(
    any_client: Client, bikes: pd.DataFrame
) -> None:
    """SQLite + local folder, PostgreSQL, and S3-compatible storage for the log segments."""
    deployed = deploy_bikes(any_client, bikes)
    monitors = any_client.monitors
    monitors.create("m", "bikes-api", window="300 rows", rules=["column_drift:temp"])
    deployed.replay(split_by_months(bikes, [1, 2]).sample(300, random_state=1), start=T0)
    deployed.replay(split_by_months(bikes, [7]).iloc[:300], start=T0 + 500)
    winter, summer = monitors.run("m")
    assert winter.result.window.drift.column("temp").drift is False
    assert summer.result.window.drift.column("temp").drift is True
    assert [a.rule for a in summer.alerts.opened] == ["column_drift:temp"]
    assert monitors.run("m") == []
    assert [r.seq for r in monitors.results("m")] == [1, 2]
    assert "temp" in monitors.report("m")


def test_a_label_delay_lets_late_ground_truth_count(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    monitors = deployed.client.monitors
    monitors.create("eager", "bikes-api", window="50 rows")
    patient = monitors.create("patient", "bikes-api", window="50 rows", label_delay="1h")
    assert patient.config.label_delay_s == 3600.0
    rows = split_by_months(bikes, [2]).iloc[:50]
    deployed.replay(rows, start=T0, labels=False)
    [eager] = monitors.run("eager", now=T0 + 60)
    assert eager.result.window.performance.status == "no_labels"
    assert monitors.run("patient", now=T0 + 60) == []  # too young: labels may still come
    with PredictionLog(deployed.client.stores) as late:
        for i, truth in enumerate(rows["bikers"]):
            late.record_feedback("bikes-api", f"req-{T0:.0f}-{i}", [float(truth)], at=T0 + 1800)
    [settled] = monitors.run("patient", now=T0 + 2 * HOUR)
    quality = settled.result.window.performance
    assert quality.status == "ok" and quality.labelled_rows == 50
    with pytest.raises(ValidationError, match="label delay"):
        monitors.create("bad", "bikes-api", label_delay="soon")
