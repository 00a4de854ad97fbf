"""Label drift: the feedback labels of a window against the reference's target, on the
bundled bike-share data (a regression) and Seattle's weather (a classifier whose labels
really shifted between 2012 and 2014), quiet on control windows from the reference period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from vega_datasets import data as vega

from loopml.monitoring.alerts import AlertRule, evaluate_rules
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.samples import TARGET, bikeshare_features, split_by_months
from loopml.sdk import Client
from tests.monitoring.conftest import T0, Deployed

WINDOW = 150
SEATTLE_INPUTS = ["precipitation", "temp_max", "temp_min", "wind"]


def _replay_in_windows(deployed: Deployed, frame: pd.DataFrame, start: float) -> float:
    """Replay `frame` in whole windows of WINDOW rows, 1,000 s apart; returns the next start."""
    for begin in range(0, len(frame) - WINDOW + 1, WINDOW):
        deployed.replay(frame.iloc[begin : begin + WINDOW], start=start)
        start += 1000
    return start


def test_bike_share_summer_demand_is_label_drift_and_winter_windows_are_not(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    client = deployed.client
    client.monitors.create(
        "labels", deployed.name, window=f"{WINDOW} rows", rules=["label_drift@critical"]
    )
    winter = split_by_months(bikes, [1, 2])  # the reference period: the model's training data
    after = _replay_in_windows(deployed, winter, T0)
    _replay_in_windows(deployed, split_by_months(bikes, [7]).iloc[: 3 * WINDOW], after)
    runs = client.monitors.run("labels")
    verdicts = [run.result.window.drift.labels for run in runs if run.result.window.drift]
    assert len(verdicts) == len(runs) == len(winter) // WINDOW + 3
    control, summer = verdicts[: len(winter) // WINDOW], verdicts[len(winter) // WINDOW :]
    for verdict in verdicts:
        assert verdict is not None and verdict.column == TARGET and verdict.is_label
        assert (verdict.kind, verdict.test) == ("numerical", "wasserstein")
        assert verdict.current_rows == WINDOW
        assert "calibrated on" in (verdict.message or "")
    assert [v.drift for v in control if v is not None] == [False] * len(control)
    assert [v.drift for v in summer if v is not None] == [True] * 3
    first_summer = runs[len(control)]
    [opened] = first_summer.alerts.opened
    assert opened.rule == "label_drift" and opened.severity == "critical"
    assert "labels: column bikers drifted (wasserstein" in opened.message
    assert not any(run.alerts.opened for run in runs[: len(control)])
    drift = first_summer.result.window.drift
    assert drift is not None and drift.labels not in drift.tested  # not a feature column


@pytest.fixture(scope="module")
def seattle() -> pd.DataFrame:
    return vega.seattle_weather()


def test_seattle_weather_labels_shifted_from_2012_to_2014(
    client: Client, seattle: pd.DataFrame
) -> None:
    """The data set's labelling moved: 191 rain days in 2012, 3 in 2014, fog instead."""
    year = seattle["date"].dt.year
    y2012 = seattle[year == 2012].reset_index(drop=True)
    y2014 = seattle[year == 2014].reset_index(drop=True)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0)
    model.fit(y2012[SEATTLE_INPUTS], y2012["weather"])
    reference = client.log_dataset(
        "seattle-2012", y2012[[*SEATTLE_INPUTS, "weather", "date"]], time_column="date"
    )
    with client.start_run("seattle", capture_code=False, inputs=[reference]) as run:
        version = run.log_model(model, name="seattle", training_data=y2012[SEATTLE_INPUTS])
    client.deployments.create("weather", version.uri)
    client.monitors.create("labels", "weather", window="61 rows", rules=["label_drift"])
    at = T0
    with PredictionLog(client.stores) as log:
        for frame in (y2012, y2014):
            predicted = model.predict(frame[SEATTLE_INPUTS])
            proba = model.predict_proba(frame[SEATTLE_INPUTS])
            for i, row in enumerate(frame[SEATTLE_INPUTS].to_dict("records")):
                log.record(
                    PredictionRecord(
                        "weather",
                        f"r{i}-{at}",
                        version.uri,
                        [row],
                        [str(predicted[i])],
                        [[float(p) for p in proba[i]]],
                        1.0,
                        at=at,
                    )
                )
                log.record_feedback("weather", f"r{i}-{at}", str(frame["weather"][i]), at=at + 1)
                at += 60
    runs = client.monitors.run("labels")
    verdicts = [run.result.window.drift.labels for run in runs if run.result.window.drift]
    assert all(v is not None and v.kind == "categorical" for v in verdicts)
    control, later = verdicts[:6], verdicts[6:]  # six 61-day windows of 2012, then 2014
    assert [v.drift for v in control if v is not None] == [False] * 6
    assert len(later) == 5 and all(v is not None and v.drift for v in later)
    assert any(run.alerts.opened for run in runs[6:])


def test_no_feedback_means_no_verdict_and_no_alert_either_way(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    client = deployed.client
    client.monitors.create("labels", deployed.name, window="100 rows", rules=["label_drift"])
    deployed.replay(split_by_months(bikes, [7]).iloc[:100], labels=False)
    [run] = client.monitors.run("labels")
    window = run.result.window
    assert window.drift is not None and window.drift.labels is None
    [condition] = evaluate_rules([AlertRule("label_drift")], window)
    assert condition.state == "unknown"
    assert "no feedback labels were compared" in condition.message
    assert not run.alerts.opened


def test_the_target_is_named_or_inferred_and_never_guessed(client: Client) -> None:
    """A reference with two columns besides the inputs needs target=; labels that come back
    as text ("1") still compare with the reference's integers."""
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    inputs = list(frame.columns[:5])
    model = LogisticRegression(max_iter=1000).fit(frame[inputs], target)
    reference = frame[inputs].assign(diagnosis=target, batch=np.arange(len(frame)) % 3)
    dataset = client.log_dataset("cancer-train", reference)
    with client.start_run("cancer", capture_code=False, inputs=[dataset]) as run:
        version = run.log_model(model, name="cancer", training_data=frame[inputs])
    client.deployments.create("cancer-api", version.uri)
    client.monitors.create("guess", "cancer-api", window="200 rows", calibrate="fixed")
    client.monitors.create(
        "named", "cancer-api", window="200 rows", target="diagnosis", calibrate="fixed"
    )
    live = frame.sample(400, random_state=0)  # the file is ordered: mix it like traffic
    truth = target[live.index].to_numpy()
    with PredictionLog(client.stores) as log:
        predicted = model.predict(live[inputs])
        for i, row in enumerate(live[inputs].to_dict("records")):
            log.record(
                PredictionRecord(
                    "cancer-api", f"r{i}", version.uri, [row], [int(predicted[i])], None, 1.0,
                    at=T0 + i,
                )
            )  # fmt: skip
            log.record_feedback("cancer-api", f"r{i}", str(int(truth[i])), at=T0 + i + 0.5)
    guessed = client.monitors.run("guess")
    assert all(r.result.window.drift and r.result.window.drift.labels is None for r in guessed)
    named = [r.result.window.drift.labels for r in client.monitors.run("named")]
    for verdict in named:
        assert verdict is not None and verdict.column == "diagnosis"
        assert (verdict.kind, verdict.test) == ("categorical", "z")  # two classes, fixed rule
        assert verdict.current_rows == 200 and verdict.current_nulls == 0
        assert "calibrated" not in (verdict.message or "")
    assert [v.drift for v in named if v is not None] == [False, False]


def test_dataset_sources_compare_each_versions_target(client: Client, bikes: pd.DataFrame) -> None:
    """Four versions drawn at random from the reference period, then July: each control has
    a 5 % chance of a false alarm (the first one is a 1-in-100 draw), July is found."""

    def version(rows: pd.DataFrame) -> pd.DataFrame:
        return bikeshare_features(rows).assign(**{TARGET: rows[TARGET].to_numpy()})

    winter = split_by_months(bikes, [1, 2])
    client.log_dataset("hours", version(winter))
    client.monitors.create("hours", "dataset:hours", target=TARGET, rules=["label_drift"])
    for seed in range(4):
        client.log_dataset("hours", version(winter.sample(500, random_state=seed)))
    client.log_dataset("hours", version(split_by_months(bikes, [7])))
    runs = client.monitors.run("hours")
    verdicts = [r.result.window.drift.labels for r in runs if r.result.window.drift]
    flags = [v.drift for v in verdicts if v is not None]
    assert len(flags) == 5
    assert sum(bool(f) for f in flags[:4]) <= 1 and flags[4] is True
    assert runs[4].alerts.opened or runs[4].alerts.still_open
