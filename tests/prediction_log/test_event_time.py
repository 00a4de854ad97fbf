"""Event times and flagged rows in the journal, the segments and the queries; old lines and
segments still read; a crash loses none of them."""

from __future__ import annotations

import json

import orjson
import pandas as pd
from sqlalchemy import select, update

from loopml.prediction_log import PredictionLog
from loopml.prediction_log.records import encode_feedback, encode_prediction
from loopml.prediction_log.tables import batches
from loopml.sdk import Client
from loopml.store.schema import log_segments
from tests.prediction_log.helpers import DAY, T0, rec

LAST_MONTH = T0 - 30 * DAY


def test_journal_lines_grow_only_when_there_is_something_to_say() -> None:
    plain = orjson.loads(encode_prediction(rec("a")))
    failed = orjson.loads(encode_prediction(rec("b", status=422, inputs=[], outputs=[])))
    backfill = orjson.loads(encode_prediction(rec("c", event_time=LAST_MONTH)))
    flagged = orjson.loads(encode_prediction(rec("d", unseen=[{"season": "monsoon"}])))
    assert (len(plain), len(failed), len(backfill), len(flagged)) == (10, 11, 12, 12)
    assert backfill[10:] == [200, {"event_time": LAST_MONTH}]
    assert flagged[11] == {"unseen": [{"season": "monsoon"}]}
    label = orjson.loads(encode_feedback("bikes", "a", 3.0, T0))
    relabel = orjson.loads(encode_feedback("bikes", "a", 3.0, T0, 2))
    dated = orjson.loads(encode_feedback("bikes", "a", 3.0, T0, 1, LAST_MONTH))
    assert (len(label), len(relabel), len(dated)) == (5, 6, 7)
    assert dated[5:] == [1, {"event_time": LAST_MONTH}]


def test_old_and_new_lines_read_together() -> None:
    lines = [
        encode_prediction(rec("old", at=T0)),  # as an older version wrote it
        encode_prediction(rec("new", at=T0 + 1, event_time=LAST_MONTH)),
        encode_feedback("bikes", "old", 1.0, T0 + 2),
        encode_feedback("bikes", "new", 2.0, T0 + 3, 1, LAST_MONTH + 60),
        orjson.dumps(
            ["p", "bikes", "bad", "m", [], [], None, 1.0, False, T0, 200, {"event_time": "x"}]
        ),
    ]
    grouped, records = batches(lines)
    assert records == 5
    tables = {key[1]: batch.to_table().to_pandas() for key, batch in grouped.items()}
    predictions, feedback = tables["predictions"], tables["feedback"]
    assert predictions["request_id"].tolist() == ["old", "new", "bad"]
    assert pd.isna(predictions["event_time"][0]) and predictions["event_time"][1] == LAST_MONTH
    assert pd.isna(predictions["event_time"][2])  # unreadable: counted at its arrival
    assert pd.isna(feedback["event_time"][0]) and feedback["event_time"][1] == LAST_MONTH + 60


def test_segments_know_their_event_span_and_event_queries_use_it(client: Client) -> None:
    with PredictionLog(client.stores) as log:
        log.record(rec("live", at=T0))
        for i in range(3):  # a backfill of last month, arriving now
            log.record(rec(f"back{i}", at=T0 + 1 + i, event_time=LAST_MONTH + i * 3600))
        log.record(rec("flagged", at=T0 + 5, unseen=[{"season": "monsoon"}]))
        log.record_feedback("bikes", "back0", 240.0, at=T0 + 6, event_time=LAST_MONTH + 900)
    with client.stores.engine.connect() as conn:
        rows = conn.execute(
            select(log_segments.c.kind, log_segments.c.min_time, log_segments.c.min_event_time)
        ).all()
    spans = {kind: (low, event) for kind, low, event in rows}
    assert spans["predictions"] == (T0, LAST_MONTH)
    assert spans["feedback"] == (T0 + 6, LAST_MONTH + 900)

    log = PredictionLog(client.stores)
    window = {"since": LAST_MONTH, "until": LAST_MONTH + DAY}
    by_event = log.predictions("bikes", time_basis="event", **window)
    assert by_event["request_id"].tolist() == ["back0", "back1", "back2"]
    assert by_event["time"].tolist() == [LAST_MONTH + i * 3600 for i in range(3)]
    assert by_event["arrival_time"].tolist() == [T0 + 1, T0 + 2, T0 + 3]
    assert log.predictions("bikes", **window).empty  # on arrival time they are today's
    everything = log.predictions("bikes")
    flagged = everything[everything["request_id"] == "flagged"]
    assert json.loads(flagged["unseen"].iloc[0]) == {"season": "monsoon"}
    assert everything["unseen"].notna().sum() == 1
    assert log.feedback("bikes")["event_time"].tolist() == [LAST_MONTH + 900]
    log.close()


def test_segments_from_before_event_times_are_found_by_their_arrival_span(
    client: Client,
) -> None:
    with PredictionLog(client.stores) as log:
        log.record(rec("old", at=LAST_MONTH))
    with client.stores.engine.begin() as conn:  # as migration 0018 leaves older segments
        conn.execute(update(log_segments).values(min_event_time=None, max_event_time=None))
    log = PredictionLog(client.stores)
    found = log.predictions("bikes", since=LAST_MONTH, until=LAST_MONTH + 1, time_basis="event")
    assert found["request_id"].tolist() == ["old"]
    assert found["event_time"].isna().all()
    log.close()


def test_a_crash_loses_no_event_time(client: Client) -> None:
    dead = PredictionLog(client.stores)
    dead.record(rec("a", event_time=LAST_MONTH, unseen=[{"season": "monsoon"}]))
    dead.record_feedback("bikes", "a", 1.0, at=T0 + 1, event_time=LAST_MONTH + 60)
    dead._journal.close(remove=False)  # the process died before any flush
    log = PredictionLog(client.stores)
    assert log.recover() == 2
    [row] = log.predictions("bikes", time_basis="event").to_dict("records")
    assert (row["time"], row["arrival_time"]) == (LAST_MONTH, T0)
    assert json.loads(row["unseen"]) == {"season": "monsoon"}
    assert log.feedback("bikes")["event_time"].tolist() == [LAST_MONTH + 60]
    log.close()
