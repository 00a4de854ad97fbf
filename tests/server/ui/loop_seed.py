"""The rest of the loop for the UI tests: dataset `sensors` in three versions, a model
serving it as `sensors-api` whose prediction log drifts over six windows (feedback
labels, latency), a monitor over it with open, acknowledged and resolved alerts, a
pipeline run twice (the second run from the cache) and a trigger that fired it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from loopml.controller import Controller
from loopml.pipelines import pipeline, step
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.sdk import Client

FEATURES = ["temp", "humidity", "wind"]
COLUMNS = [*FEATURES, "site"]
WINDOW = 40
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
#: per window: mean temperature, mean humidity, sites seen, label offset (a quality drop)
WINDOWS = [
    (15.0, 60.0, "abc", 0.0),
    (15.0, 60.0, "abc", 0.0),
    (19.0, 60.0, "abc", 0.0),
    (24.0, 70.0, "abc", 8.0),
    (28.0, 80.0, "ab", 8.0),
    (29.0, 82.0, "ab", 8.0),
]
MONITOR = "sensors-drift"
PIPELINE_PATH = "tests.server.ui.loop_seed:prepare"


@dataclass(frozen=True)
class LoopSeeded:
    monitor: str
    deployment: str
    dataset: str
    pipeline: str
    trigger: str


def sensors(
    rng: np.random.Generator, n: int, temp: float, humidity: float, sites: str
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "temp": rng.normal(temp, 3, n),
            "humidity": rng.normal(humidity, 8, n),
            "wind": rng.normal(5, 2, n),
            "site": rng.choice(list(sites), n),
        }
    )
    frame["y"] = 2 * frame.temp + 0.1 * frame.humidity + rng.normal(0, 1, n)
    return frame


@step
def load(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(float(rows))})


@step(cache=False)
def summarize(frame: pd.DataFrame) -> dict[str, float]:
    return {"rows": float(len(frame)), "mean": float(frame.x.mean())}


@pipeline(name="sensors-prepare")
def prepare(rows: int = 10) -> object:
    return summarize(load(rows))


def _log_traffic(
    client: Client, model: LinearRegression, version: str, rng: np.random.Generator
) -> None:
    log = PredictionLog(client.stores)
    i = 0
    for w, (temp, humidity, sites, offset) in enumerate(WINDOWS):
        frame = sensors(rng, WINDOW, temp, humidity, sites)
        predicted = model.predict(frame[FEATURES])
        for j in range(WINDOW):
            request = f"req-{i}"
            log.record(
                PredictionRecord(
                    deployment="sensors-api",
                    request_id=request,
                    model=version,
                    inputs=[{str(k): v for k, v in frame.iloc[j][COLUMNS].items()}],
                    outputs=[float(predicted[j])],
                    probabilities=None,
                    latency_ms=2.0 + i % 7 + 3 * w,
                    at=T0 + i,
                )
            )
            truth = float(frame.y.iloc[j]) + offset
            log.record_feedback("sensors-api", request, [truth], at=T0 + i + 0.5)
            i += 1
    log.flush()
    log.close()


def seed_loop(client: Client, editor_token: str) -> LoopSeeded:
    """Seed as the workspace owner `client`; the editor of `editor_token` acknowledges
    one alert."""
    rng = np.random.default_rng(3)
    reference = client.log_dataset("sensors", sensors(rng, 400, 15.0, 60.0, "abc"))
    client.log_dataset(
        "sensors",
        sensors(rng, 300, 18.0, 62.0, "abcd"),
        parent=reference.id,
        description="a warmer month, a new site",
    )
    frame = client.load_dataset(reference)
    model = LinearRegression().fit(frame[FEATURES], frame.y)
    with client.start_run("sensors", "fit", capture_code=False, inputs=[reference]) as run:
        version = run.log_model(model, name="sensors", input_example=frame[FEATURES][:5])
    client.deployments.create("sensors-api", version.uri, override_reason="UI test data")
    client.monitors.create(
        MONITOR,
        "deployment:sensors-api",
        reference=reference.uri,
        window=f"{WINDOW} rows",
        columns=COLUMNS,
        target="y",
        task="regression",
        rules=["dataset_drift", "column_drift:temp", "column_drift:site", "metric_below:r2:0.5"],
        estimate=True,
        resolve_after=1,
    )
    _log_traffic(client, model, version.uri, rng)
    client.monitors.run(MONITOR, now=T0 + 10_000)
    drift_alert = next(
        a for a in client.monitors.alerts.list(MONITOR, "open") if a.rule == "dataset_drift"
    )
    owner = client.stores.identity
    try:
        client.login(editor_token)
        client.monitors.alerts.acknowledge(drift_alert.id, comment="looking into it")
    finally:
        client.stores.identity = owner
    site_alert = next(
        a for a in client.monitors.alerts.list(MONITOR, "open") if a.rule == "column_drift:site"
    )
    client.monitors.alerts.resolve(site_alert.id, reason="site d was planned")
    client.pipelines.register("sensors-prepare", PIPELINE_PATH)
    prepare.run(client, rows=10)
    client.triggers.create(
        "sensors-refresh", "dataset:sensors", "sensors-prepare", params={"rows": 10}
    )
    client.log_dataset("sensors", sensors(rng, 300, 21.0, 65.0, "abcd"), description="newest")
    Controller(client, compact_logs_every_s=None).reconcile_once()
    return LoopSeeded(MONITOR, "sensors-api", "sensors", "sensors-prepare", "sensors-refresh")
