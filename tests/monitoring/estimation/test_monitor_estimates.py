"""A deployment monitor estimates RMSE from the prediction log alone, alerts on the estimate
before any label arrives, a trigger fires on that alert, and once feedback comes the
realized metric is reported beside the estimate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.controller import Controller
from loopml.errors import ValidationError
from loopml.samples import TARGET, bikeshare_features, split_by_months
from tests.monitoring.conftest import T0, Deployed

WINDOW = 240


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return bikeshare_features(frame).assign(**{TARGET: frame[TARGET].to_numpy()})


@pytest.mark.slow
def test_estimated_rmse_alerts_before_labels_and_sits_beside_the_realized(
    deployed: Deployed, bikes: pd.DataFrame, tmp_path: Path
) -> None:
    client = deployed.client
    march = split_by_months(bikes, [3])  # labelled, and the model never trained on it
    holdout = client.log_dataset("bikes-march", labelled(march))
    error = march[TARGET] - deployed.model.predict(bikeshare_features(march))
    threshold = round(1.2 * float(np.sqrt((error**2).mean())))  # 20 % worse than held out
    rule = f"estimated_metric_above:rmse:{threshold}"
    client.monitors.create(
        "estimated",
        deployed.name,
        window=f"{WINDOW} rows",
        estimate=True,
        estimate_reference=holdout.uri,
        rules=[rule],
    )
    calls = tmp_path / "calls.jsonl"
    client.triggers.create(
        "retrain-early",
        f"alert:estimated:{rule}",
        "tests.controller.helpers:record",
        params={"log": str(calls), "alert": "{trigger.alert}"},
    )
    spring = split_by_months(bikes, [4, 5, 6, 7]).sort_values("timestamp", ignore_index=True)
    nights = spring[spring["hr"].between(0, 5)].iloc[:WINDOW]
    rush = spring[spring["hr"].isin([7, 8, 17, 18])]
    deployed.replay(nights, labels=False)
    deployed.replay(rush.iloc[:WINDOW], start=T0 + 1_000, labels=False)

    quiet, busy = [run.result.window for run in client.monitors.run("estimated")]
    for window in (quiet, busy):
        assert window.estimated is not None and window.estimated.status == "ok"
        assert window.estimated.method == "dle" and window.estimated.rows == WINDOW
        assert window.estimated.labelled_rows == 0 and window.estimated.realized == {}
        for item in window.estimated.metrics.values():
            assert item["lower"] <= item["value"] <= item["upper"]
    assert quiet.estimated.value("rmse") < threshold < busy.estimated.value("rmse")
    [alert] = client.monitors.alerts.list(monitor="estimated", state="open")
    assert alert.rule == rule and "DLE over 240 predictions" in alert.message

    report = Controller(client, owner="test-controller").reconcile_once()
    assert [e.trigger for e in report.recorded] == ["retrain-early"]
    [call] = [json.loads(line) for line in calls.read_text().splitlines()]
    assert call["params"]["alert"] == alert.id

    # Feedback for the next window: the realized RMSE of the same rows sits beside it.
    deployed.replay(rush.iloc[WINDOW : 2 * WINDOW], start=T0 + 2_000)
    [later] = [run.result.window for run in client.monitors.run("estimated")]
    assert later.estimated is not None and later.estimated.labelled_rows == WINDOW
    realized = later.estimated.realized["rmse"]
    assert realized == pytest.approx(later.performance.metrics["rmse"])
    stored = client.monitors.result("estimated").window.estimated
    assert stored is not None and stored.metrics == later.estimated.metrics


def test_estimation_needs_a_deployment_and_rules_need_estimates(deployed: Deployed) -> None:
    client = deployed.client
    with pytest.raises(ValidationError, match="need estimates: create the monitor with"):
        client.monitors.create(
            "no-estimate", deployed.name, rules=["estimated_metric_below:accuracy:0.8"]
        )
    with pytest.raises(ValidationError, match="cannot be estimated without labels"):
        client.monitors.create(
            "r2", deployed.name, estimate=True, rules=["estimated_metric_below:r2:0.5"]
        )
    with pytest.raises(ValidationError, match="turn estimation on"):
        client.monitors.create("ref-only", deployed.name, estimate_reference=deployed.training.uri)
    client.log_dataset("numbers", pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ValidationError, match="reads a deployment's prediction log"):
        client.monitors.create("on-data", "dataset:numbers", estimate=True)
