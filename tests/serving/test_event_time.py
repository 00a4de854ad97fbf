"""Event times through the data plane: a backfill of July 2011's bike-share hours lands in
July 2011's windows of an event-time monitor, not in today's; bad timestamps are refused
with a clear message and nothing else is lost."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pandas as pd
import pytest

from loopml.prediction_log import PredictionLog
from loopml.prediction_log.queries import connect
from loopml.samples import TARGET, bikeshare_features, load_bikeshare, split_by_months
from loopml.sdk import Client
from loopml.serving import create_app
from tests.monitoring.conftest import deploy_bikes
from tests.serving.conftest import serve

pytestmark = pytest.mark.anyio

DAY = 86_400.0
PREDICT = "/v1/deployments/bikes-api/predict"
FEEDBACK = "/v1/deployments/bikes-api/feedback"
JULY_1 = 1_309_478_400.0  # 2011-07-01T00:00:00Z


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(bikeshare_features(frame).to_json(orient="records"))


async def test_a_backfill_lands_in_the_windows_of_its_own_period(
    client: Client, bikes: pd.DataFrame
) -> None:
    deploy_bikes(client, bikes)  # trained on January and February 2011
    july = split_by_months(bikes, [7]).iloc[:72].reset_index(drop=True)  # July 1 to 3
    records = _records(july)
    stamps = july["timestamp"]  # the file's local hours, read as UTC here
    client.monitors.create(
        "by-event", "bikes-api", window="1d", time_basis="event", rules=["label_drift"]
    )
    client.monitors.create("by-arrival", "bikes-api", window="1d")
    async with serve(create_app(client, ["bikes-api"], auth="open")) as http:
        for i, record in enumerate(records):
            stamp = stamps.iloc[i]
            if i % 2:  # in the body as ISO 8601 ...
                body: dict[str, Any] = {"records": [record], "event_time": f"{stamp.isoformat()}Z"}
                headers = {}
            else:  # ... or in the header as epoch seconds
                body = {"records": [record]}
                headers = {"X-Event-Time": str(stamp.timestamp())}
            answer = await http.post(PREDICT, json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            truth = {
                "request_id": answer.json()["request_id"],
                "label": float(july[TARGET].iloc[i]),
                "event_time": stamp.timestamp() + 3600,  # counted an hour later
            }
            labelled = await http.post(FEEDBACK, json=truth)
            assert labelled.status_code == 200, labelled.text
    now = time.time()
    with PredictionLog(client.stores) as log:
        logged = log.predictions("bikes-api")
        feedback = log.feedback("bikes-api")
    assert logged["event_time"].tolist() == [s.timestamp() for s in stamps]
    assert (logged["time"] > now - 600).all()  # they all arrived just now
    assert feedback["event_time"].tolist() == [s.timestamp() + 3600 for s in stamps]

    by_event = [run.result.window for run in client.monitors.run("by-event", now=now)]
    days = by_event[:3]
    assert [(w.start, w.rows) for w in days] == [(JULY_1 + d * DAY, 24) for d in range(3)]
    assert all(w.performance is not None and w.performance.labelled_rows == 24 for w in days)
    for window in days:  # July's demand against the winter it was trained on
        labels = window.drift.labels if window.drift else None
        assert labels is not None and labels.drift is True and labels.current_rows == 24
    assert sum(w.rows for w in by_event) == 72  # then one empty stretch up to today

    assert client.monitors.run("by-arrival", now=now) == []  # today is not over yet
    by_arrival = [r.result.window for r in client.monitors.run("by-arrival", now=now + DAY)]
    assert [w.rows for w in by_arrival] == [72]
    today = math.floor(now / DAY) * DAY
    assert by_arrival[0].start == today and by_arrival[0].start > JULY_1 + 365 * DAY


BAD = [
    ("body", "yesterday", "'yesterday' is neither epoch seconds nor ISO 8601"),
    ("body", "2011-13-01T00:00:00Z", "is neither epoch seconds nor ISO 8601"),
    ("body", 1_309_478_400_000, "(it looks like milliseconds: divide by 1000)"),
    ("body", "2999-01-01T00:00:00Z", "lies in the future, after the end of tomorrow"),
    ("body", True, "expected a timestamp, got True"),
    ("body", None, "expected a timestamp, got None"),
    ("body", [1], "expected a timestamp, got [1]"),
    ("body", -1, "before 1970-01-01"),
    ("header", "soon", "'soon' is neither epoch seconds nor ISO 8601"),
    ("header", "inf", "not a finite number"),
    ("both", JULY_1, "given twice"),
]


async def test_bad_event_times_are_refused_and_nothing_else_is_lost(
    client: Client, bikes: pd.DataFrame
) -> None:
    deploy_bikes(client, bikes)
    hours = split_by_months(bikes, [7]).iloc[: len(BAD) + 1].reset_index(drop=True)
    records = _records(hours)
    answered: list[str] = []
    async with serve(create_app(client, ["bikes-api"], auth="open")) as http:
        for i, (where, value, problem) in enumerate(BAD):
            good = {"records": [records[i]], "event_time": JULY_1 + i * 3600}
            first = await http.post(PREDICT, json=good)
            assert first.status_code == 200, first.text
            answered.append(first.json()["request_id"])
            bad: dict[str, Any] = {"records": [records[-1]]}
            headers = {}
            if where in ("body", "both"):
                bad["event_time"] = value
            if where in ("header", "both"):
                headers["X-Event-Time"] = str(value)
            refused = await http.post(PREDICT, json=bad, headers=headers)
            assert refused.status_code == 422, (value, refused.text)
            [detail] = refused.json()["detail"]
            assert detail["field"] in ("event_time", "X-Event-Time")
            assert problem in detail["problem"], detail
            assert detail["hint"]
            assert refused.headers["x-request-id"]  # logged as a failed request

        late = {"request_id": answered[0], "label": 100.0, "event_time": "next week"}
        assert (await http.post(FEEDBACK, json=late)).status_code == 422
        kept = await http.post(FEEDBACK, json={**late, "event_time": JULY_1 + 7200})
        assert kept.status_code == 200 and kept.json()["version"] == 1  # none was used up
    with PredictionLog(client.stores) as log:
        logged = log.predictions("bikes-api")
        labels = log.feedback("bikes-api")
    assert logged["request_id"].tolist() == answered  # every good request, and only those
    assert logged["event_time"].tolist() == [JULY_1 + i * 3600 for i in range(len(BAD))]
    assert labels[["request_id", "event_time"]].values.tolist() == [[answered[0], JULY_1 + 7200]]
    with connect(client.stores, "bikes-api") as conn:
        failed = conn.execute("SELECT count(*) FROM prediction_log WHERE status = 422").fetchone()
    assert failed == (len(BAD),)
