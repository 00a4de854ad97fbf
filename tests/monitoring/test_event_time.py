"""Monitors on event time: windows follow when things happened, a changed basis starts the
windows over, a wrong basis is refused."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.samples import bikeshare_features, split_by_months
from tests.monitoring.conftest import T0, Deployed

DAY = 86_400.0


def _log(
    deployed: Deployed, frame: pd.DataFrame, *, at: float, event_at: float | None, tag: str
) -> None:
    """One-row requests one second apart, arriving from `at`, describing `event_at` on."""
    features = bikeshare_features(frame)
    predicted = deployed.model.predict(features)
    with PredictionLog(deployed.client.stores) as log:
        for i, row in enumerate(features.to_dict("records")):
            log.record(
                PredictionRecord(
                    deployed.name,
                    f"{tag}-{i}",
                    deployed.version.uri,
                    [row],
                    [float(predicted[i])],
                    None,
                    1.0,
                    at=at + i,
                    event_time=None if event_at is None else event_at + i,
                )
            )


def test_windows_follow_event_time_so_a_backfill_comes_first(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    client = deployed.client
    client.monitors.create("events", deployed.name, window="100 rows", time_basis="event")
    client.monitors.create("arrivals", deployed.name, window="100 rows")
    july = split_by_months(bikes, [7])
    _log(deployed, july.iloc[100:200], at=T0 + DAY, event_at=None, tag="live")
    _log(deployed, july.iloc[:100], at=T0 + 2 * DAY, event_at=T0, tag="backfill")
    now = T0 + 3 * DAY
    by_event = [r.result.window for r in client.monitors.run("events", now=now)]
    by_arrival = [r.result.window for r in client.monitors.run("arrivals", now=now)]

    def after(t: float) -> float:
        return math.nextafter(t, math.inf)  # a count window ends just after its last row

    assert [(w.start, w.end, w.rows) for w in by_event] == [
        (T0, after(T0 + 99), 100),  # the backfill, in the night it describes
        (after(T0 + 99), after(T0 + DAY + 99), 100),  # the live rows, at their arrival
    ]
    assert [(w.start, w.end, w.rows) for w in by_arrival] == [
        (T0 + DAY, after(T0 + DAY + 99), 100),  # on arrival the backfill comes last
        (after(T0 + DAY + 99), after(T0 + 2 * DAY + 99), 100),
    ]


def test_a_wrong_basis_is_refused_and_a_new_basis_starts_the_windows_over(
    deployed: Deployed, bikes: pd.DataFrame
) -> None:
    client = deployed.client
    with pytest.raises(ValidationError, match="time basis 'ingest' is unknown: use arrival"):
        client.monitors.create("m", deployed.name, time_basis="ingest")
    client.monitors.create("m", deployed.name, window="100 rows")
    deployed.replay(split_by_months(bikes, [1]).iloc[:100])
    client.monitors.run("m")
    cursor = client.monitors.get("m").cursor
    assert cursor is not None
    same = client.monitors.create("m", deployed.name, window="100 rows", replace=True)
    assert same.cursor == cursor  # same basis: resume where it was
    moved = client.monitors.create(
        "m", deployed.name, window="100 rows", time_basis="event", replace=True
    )
    assert moved.cursor is None and moved.config.time_basis == "event"
    assert [r.result.window.rows for r in client.monitors.run("m")] == [100]
