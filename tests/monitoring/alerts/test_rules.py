"""Alert rules: their forms, their validation, and what they say about a window."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from loopml.errors import ValidationError
from loopml.monitoring.alerts.rules import AlertRule, evaluate_rules
from loopml.monitoring.results import (
    ColumnDrift,
    DriftResult,
    FreshnessResult,
    LatencyResult,
    PerformanceResult,
    WindowResult,
)


def column(name: str, drift: bool | None, statistic: float | None = 0.2) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind="numerical",
        test="wasserstein",
        statistic=statistic,
        threshold=0.1,
        drift=drift,
        status="ok" if drift is not None else "all_null",
    )


def window(
    columns: list[ColumnDrift] | None = None,
    performance: PerformanceResult | None = None,
    latency: list[LatencyResult] | None = None,
) -> WindowResult:
    drift = None
    if columns is not None:
        tested = [c for c in columns if c.drift is not None]
        share = sum(bool(c.drift) for c in tested) / len(tested) if tested else None
        drift = DriftResult(
            columns=columns,
            drift_share=0.5,
            reference_rows=100,
            current_rows=50,
            dataset_drift=None if share is None else share >= 0.5,
        )
    return WindowResult("w", 0.0, 60.0, 50, drift, performance, latency or [])


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("dataset_drift", {"kind": "dataset_drift"}),
        ("label_drift@critical", {"kind": "label_drift", "severity": "critical"}),
        ("column_drift:temp", {"kind": "column_drift", "column": "temp"}),
        ("column_drift:*", {"kind": "column_drift", "column": "*"}),
        ("column_drift:in:odd", {"kind": "column_drift", "column": "in:odd"}),
        ("metric_below:r2:0.5", {"kind": "metric_below", "metric": "r2", "threshold": 0.5}),
        ("metric_above:rmse:200", {"kind": "metric_above", "metric": "rmse", "threshold": 200}),
        ("latency_above:p99:250", {"kind": "latency_above", "percentile": "p99", "threshold": 250}),
        (
            "latency_above:p95:80.5:model:bikes/3@critical",
            {
                "kind": "latency_above",
                "percentile": "p95",
                "threshold": 80.5,
                "model": "model:bikes/3",
                "severity": "critical",
            },
        ),
        ("error_rate_above:0.01", {"kind": "error_rate_above", "threshold": 0.01}),
        (
            "error_rate_above:0.05:*@info",
            {"kind": "error_rate_above", "threshold": 0.05, "model": "*", "severity": "info"},
        ),
        ("freshness_above:lag:2h", {"kind": "freshness_above", "metric": "lag", "threshold": 7200}),
        ("freshness_above:age:90s", {"kind": "freshness_above", "metric": "age", "threshold": 90}),
        (
            "freshness_above:behind:0s@critical",
            {
                "kind": "freshness_above",
                "metric": "behind",
                "threshold": 0,
                "severity": "critical",
            },
        ),
    ],
)
def test_compact_forms_round_trip(text: str, fields: dict[str, Any]) -> None:
    rule = AlertRule.parse(text)
    assert rule == AlertRule(**fields)
    assert AlertRule.parse(rule.to_string()) == rule
    assert AlertRule.from_dict(rule.to_dict()) == rule
    assert rule.name == text.split("@")[0]


def test_names_default_to_the_compact_form_and_can_be_chosen() -> None:
    assert AlertRule("metric_below", metric="accuracy", threshold=0.9).name == (
        "metric_below:accuracy:0.9"
    )
    named = AlertRule("dataset_drift", name="inputs moved", severity="critical")
    assert named.to_dict() == {
        "kind": "dataset_drift",
        "severity": "critical",
        "name": "inputs moved",
    }
    assert AlertRule("column_drift").name == "column_drift:*"


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("drift", "unknown kind 'drift'"),
        ("metric_below:r2", "needs a metric and a threshold"),
        ("metric_below:r2:high", "'high' is not a number"),
        ("metric_below:auc:0.5", "metric 'auc' is unknown"),
        ("latency_above:p90:100", "percentile 'p90' is unknown"),
        ("latency_above:p99:-1", "above 0 ms"),
        ("latency_above:p99", "percentile and a threshold"),
        ("error_rate_above:5", "share in [0, 1)"),
        ("error_rate_above", "needs a threshold share"),
        ("dataset_drift:0.3", "takes no arguments"),
        ("label_drift:bikers", "label_drift takes no arguments"),
        ("error_rate_above:nan", "finite number"),
        ("freshness_above:speed:1h", "freshness measure 'speed' is unknown"),
        ("freshness_above:lag", "needs a measure (lag, age or behind) and a duration"),
        ("freshness_above:lag:-5", "a duration ≥ 0 s"),
        ("freshness_above:age:soon", "not a duration"),
        ("", "non-empty"),
    ],
)
def test_bad_compact_forms_say_what_to_fix(text: str, fix: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertRule.parse(text)
    assert fix in str(caught.value)


@pytest.mark.parametrize(
    ("data", "fix"),
    [
        ({"kind": "dataset_drift", "threshold": 0.2}, "does not take ['threshold']"),
        ({"kind": "metric_below", "metric": "r2"}, "finite number as threshold"),
        ({"kind": "dataset_drift", "severity": "high"}, "severity 'high'"),
        ({"kind": "dataset_drift", "colour": "red"}, "unknown keys ['colour']"),
        ({"metric": "r2"}, "needs a 'kind'"),
        ({"kind": "metric_below", "metric": "r2", "threshold": True}, "finite number"),
        ({"kind": "column_drift", "column": ""}, "non-empty string"),
    ],
)
def test_bad_stored_rules(data: dict[str, Any], fix: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertRule.from_dict(data)
    assert fix in str(caught.value)


def test_drift_rules() -> None:
    rules = [
        AlertRule.parse("dataset_drift"),
        AlertRule.parse("column_drift:temp"),
        AlertRule.parse("column_drift:*"),
        AlertRule.parse("column_drift:gone"),
    ]
    cols = [
        column("temp", True, 0.31),
        column("hour", False),
        column("day", False),
        column("wind", None, None),
    ]
    found = {(c.rule.name, c.subject): c for c in evaluate_rules(rules, window(cols))}
    dataset = found[("dataset_drift", "dataset")]
    assert dataset.state == "clear" and dataset.threshold == 0.5
    assert dataset.value == pytest.approx(1 / 3)
    assert "1 of 3 columns drifted" in dataset.message
    temp = found[("column_drift:temp", "temp")]
    assert (temp.state == "firing") and temp.value == 0.31 and "wasserstein 0.31" in temp.message
    assert [found[("column_drift:*", n)].state for n in ("temp", "hour", "wind")] == [
        "firing",
        "clear",
        "unknown",
    ]
    assert found[("column_drift:gone", "gone")].state == "unknown"


def test_label_drift_rule_reads_the_label_column_and_is_unknown_without_one() -> None:
    rule = AlertRule.parse("label_drift")
    labels = replace(column("bikers", True, 2.6), is_label=True)
    features = [column("temp", False), column("hour", False)]
    [firing] = evaluate_rules([rule], window([*features, labels]))
    assert (firing.subject, firing.state, firing.value) == ("labels", "firing", 2.6)
    assert firing.message.startswith("labels: column bikers drifted (wasserstein 2.6")
    result = window([*features, labels]).drift
    assert result is not None and result.share == 0.0  # labels are not a feature
    [clear] = evaluate_rules([rule], window([*features, replace(labels, drift=False)]))
    assert clear.state == "clear"
    [unknown] = evaluate_rules([rule], window(features))
    assert unknown.state == "unknown" and "no feedback labels" in unknown.message
    [untested] = evaluate_rules([rule], window([*features, replace(labels, drift=None)]))
    assert untested.state == "unknown"


def test_without_a_drift_result_drift_is_unknown() -> None:
    rules = [AlertRule.parse("dataset_drift"), AlertRule.parse("column_drift:*")]
    states = [(c.subject, c.state) for c in evaluate_rules(rules, window())]
    assert states == [("dataset", "unknown"), ("*", "unknown")]


def test_metric_rules() -> None:
    quality = PerformanceResult("regression", 100, 80, {"r2": 0.42, "rmse": 150.0, "mae": None})
    rules = [
        AlertRule.parse("metric_below:r2:0.5"),
        AlertRule.parse("metric_above:rmse:200"),
        AlertRule.parse("metric_above:mae:10"),
        AlertRule.parse("metric_below:accuracy:0.9"),
    ]
    r2, rmse, mae, accuracy = evaluate_rules(rules, window(performance=quality))
    assert r2.state == "firing" and r2.message == "r2 0.42 < 0.5 over 80 labelled rows"
    assert rmse.state == "clear" and rmse.value == 150.0
    assert mae.state == "unknown" and accuracy.state == "unknown"


@pytest.mark.parametrize(
    "quality",
    [
        None,
        PerformanceResult("regression", 10, 0, status="no_labels", message="no labels yet"),
        PerformanceResult(None, 0, 0, status="empty"),
    ],
)
def test_metrics_that_could_not_be_computed_are_unknown(
    quality: PerformanceResult | None,
) -> None:
    (condition,) = evaluate_rules([AlertRule.parse("metric_below:r2:0.5")], window(None, quality))
    assert condition.state == "unknown" and condition.value is None


def test_latency_and_error_rate_rules() -> None:
    results = [
        LatencyResult(None, 100, 3, 20.0, 180.0, 300.0),
        LatencyResult("model:bikes/3", 90, 0, 18.0, 150.0, 200.0),
        LatencyResult("model:bikes/4", 10, 3, 40.0, 280.0, 400.0),
    ]
    rules = [
        AlertRule.parse("latency_above:p99:250"),
        AlertRule.parse("latency_above:p99:250:model:bikes/3"),
        AlertRule.parse("latency_above:p95:250:*"),
        AlertRule.parse("error_rate_above:0.01"),
        AlertRule.parse("error_rate_above:0.01:model:bikes/9"),
    ]
    found = {(c.rule.name, c.subject): c for c in evaluate_rules(rules, window(latency=results))}
    overall = found[("latency_above:p99:250", "all")]
    assert (overall.state == "firing") and overall.value == 300.0
    assert overall.message == "p99 latency of all 300 ms > 250 ms"
    assert found[("latency_above:p99:250:model:bikes/3", "model:bikes/3")].state == "clear"
    assert found[("latency_above:p95:250:*", "model:bikes/3")].state == "clear"
    assert found[("latency_above:p95:250:*", "model:bikes/4")].state == "firing"
    errors = found[("error_rate_above:0.01", "all")]
    assert (errors.state == "firing") and errors.value == pytest.approx(0.03)
    assert "3.00% > 1.00% (3 of 100 requests)" in errors.message
    assert found[("error_rate_above:0.01:model:bikes/9", "model:bikes/9")].state == "unknown"


def test_no_traffic_is_unknown() -> None:
    quiet = window(latency=[LatencyResult(None, 0, 0, None, None, None)])
    rules = [AlertRule.parse("latency_above:p99:250"), AlertRule.parse("error_rate_above:0.1")]
    assert [c.state for c in evaluate_rules(rules, quiet)] == ["unknown", "unknown"]


def test_rule_names_must_be_unique() -> None:
    rule = AlertRule.parse("dataset_drift")
    with pytest.raises(ValidationError, match="unique"):
        evaluate_rules([rule, rule], window())


def fresh(**values: Any) -> WindowResult:
    """A freshness check of view `v` at t=10,000 s."""
    defaults: dict[str, Any] = {
        "view": "v",
        "checked_at": 10_000.0,
        "materialized_at": 9_000.0,
        "watermark": 8_000.0,
        "source_newest": 9_500.0,
    }
    return WindowResult(
        "check", None, None, 0, None, freshness=FreshnessResult(**defaults | values)
    )


def test_freshness_rules_measure_lag_age_and_how_far_behind_the_source_is() -> None:
    rules = [
        AlertRule.parse("freshness_above:lag:1h"),
        AlertRule.parse("freshness_above:age:10m"),
        AlertRule.parse("freshness_above:behind:0"),
    ]
    states = {c.rule.metric: (c.state, c.value, c.subject) for c in evaluate_rules(rules, fresh())}
    assert states == {
        "lag": ("clear", 2000.0, "v"),
        "age": ("firing", 1000.0, "v"),
        "behind": ("firing", 1500.0, "v"),
    }
    current = evaluate_rules(rules[2:], fresh(source_newest=8_000.0))
    assert [(c.state, c.value) for c in current] == [("clear", 0.0)]
    # rows dated after the check are not "behind": materialization never takes them
    future = evaluate_rules(rules[2:], fresh(source_newest=20_000.0))
    assert [c.value for c in future] == [2000.0]


def test_a_view_never_materialized_fires_and_no_check_is_unknown() -> None:
    rule = AlertRule.parse("freshness_above:lag:1d")
    [never] = evaluate_rules([rule], fresh(materialized_at=None, watermark=None))
    assert never.state == "firing" and "no successful materialization" in never.message
    [empty] = evaluate_rules([rule], fresh(watermark=None))  # materialized, nothing online
    assert empty.state == "unknown"
    [unchecked] = evaluate_rules([rule], window(columns=[column("temp", True)]))
    assert unchecked.state == "unknown"
    [drift] = evaluate_rules([AlertRule.parse("dataset_drift")], fresh())
    assert drift.state == "unknown"  # a freshness check says nothing about drift
