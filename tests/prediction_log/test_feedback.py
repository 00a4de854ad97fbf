"""Feedback labels and their join to predictions."""

from __future__ import annotations

from typing import Any

import pandas as pd

from loopml.prediction_log import PredictionLog
from tests.prediction_log.helpers import T0, rec

THREE_ROWS: dict[str, Any] = {
    "inputs": [{"x": 1}, {"x": 2}, {"x": 3}],
    "outputs": [10.0, 20.0, 30.0],
}


def _labels(frame: pd.DataFrame) -> list[tuple[str, int, object]]:
    return list(zip(frame["request_id"], frame["row"], frame["label"], strict=True))


def test_request_label_applies_to_every_row(any_plog: PredictionLog) -> None:
    any_plog.record(rec("a", **THREE_ROWS))
    any_plog.record(rec("b", at=T0 + 1))
    any_plog.record_feedback("bikes", "a", 7.0, at=T0 + 5)
    any_plog.flush()
    assert _labels(any_plog.labelled("bikes")) == [("a", 0, 7.0), ("a", 1, 7.0), ("a", 2, 7.0)]
    feedback = any_plog.feedback("bikes")
    assert feedback["row"].isna().all() and feedback["time"].tolist() == [T0 + 5]


def test_row_labels_apply_to_their_row(any_plog: PredictionLog) -> None:
    any_plog.record(rec("a", **THREE_ROWS))
    any_plog.record_feedback("bikes", "a", [11.0, 21.0, 31.0], at=T0 + 5)
    any_plog.flush()
    assert _labels(any_plog.labelled("bikes")) == [("a", 0, 11.0), ("a", 1, 21.0), ("a", 2, 31.0)]
    assert any_plog.feedback("bikes")["row"].tolist() == [0, 1, 2]


def test_late_feedback_and_corrections_use_the_latest_label(plog: PredictionLog) -> None:
    plog.record(rec("a", **THREE_ROWS))
    plog.flush()
    assert plog.labelled("bikes").empty  # no feedback yet
    plog.record_feedback("bikes", "a", 1.0, at=T0 + 10)
    plog.flush()
    assert plog.labelled("bikes")["label"].tolist() == [1.0, 1.0, 1.0]
    plog.record_feedback("bikes", "a", [5.0, 6.0], at=T0 + 20)  # corrects rows 0 and 1
    plog.record_feedback("bikes", "a", 9.0, at=T0 + 5)  # older than the first: ignored
    plog.flush()
    frame = plog.labelled("bikes")
    assert frame["label"].tolist() == [5.0, 6.0, 1.0]
    assert frame["label_time"].tolist() == [T0 + 20, T0 + 20, T0 + 10]
    assert len(plog.feedback("bikes")) == 4


def test_feedback_for_unknown_request_is_kept_but_not_joined(any_plog: PredictionLog) -> None:
    any_plog.record(rec("known"))
    any_plog.record_feedback("bikes", "known", 1.0)
    any_plog.record_feedback("bikes", "never-seen", 2.0)
    any_plog.flush()
    assert sorted(any_plog.feedback("bikes")["request_id"]) == ["known", "never-seen"]
    assert any_plog.labelled("bikes")["request_id"].tolist() == ["known"]


def test_labelled_filters_like_predictions(plog: PredictionLog) -> None:
    plog.record(rec("old", at=T0))
    plog.record(rec("new", at=T0 + 100))
    plog.record(rec("new", at=T0 + 100, shadow=True, model="model:bikes/4"))
    for request_id in ("old", "new"):
        plog.record_feedback("bikes", request_id, "label-" + request_id, at=T0 + 200)
    plog.flush()
    assert plog.labelled("bikes", since=T0 + 50)["request_id"].tolist() == ["new"]
    shadowed = plog.labelled("bikes", since=T0 + 50, include_shadow=True)
    assert shadowed["model"].tolist() == ["model:bikes/3", "model:bikes/4"]
    assert shadowed["label"].tolist() == ["label-new", "label-new"]


def test_relabels_keep_their_version_and_every_version_is_kept(plog: PredictionLog) -> None:
    plog.record(rec("a", **THREE_ROWS))
    plog.record_feedback("bikes", "a", 1.0, at=T0 + 5)
    plog.record_feedback("bikes", "a", 2.0, at=T0 + 6, version=2)
    plog.flush()
    history = plog.feedback("bikes")
    assert history["version"].tolist() == [1, 2] and history["label"].tolist() == [1.0, 2.0]
    assert plog.labelled("bikes")["label"].tolist() == [2.0, 2.0, 2.0]


def test_answered_finds_a_flushed_request_and_counts_its_labels(plog: PredictionLog) -> None:
    plog.record(rec("a", **THREE_ROWS))
    plog.record(rec("s", shadow=True))
    plog.record_feedback("bikes", "a", [1.0, 2.0, 3.0], at=T0 + 5)
    plog.flush()
    answered = plog.answered("bikes", "a")
    assert answered is not None and (answered.rows, answered.labels) == (3, 1)
    assert plog.answered("bikes", "s") is None  # a shadow answer was never returned
    assert plog.answered("bikes", "never") is None
    assert plog.answered("other", "a") is None
