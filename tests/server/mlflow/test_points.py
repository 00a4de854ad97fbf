"""MLflow metrics become loopml points checked as `log_metric` checks them, whether the
batch takes the column-at-a-time path (the stock client's batches) or the item-by-item one."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from loopml.errors import ValidationError
from loopml.server.mlflow.points import _by_items, linked_to_models, to_points


def _metric(
    key: Any = "loss", value: Any = 0.5, step: Any = 3, stamp: Any = 1_700_000_000_000
) -> dict[str, Any]:
    return {"key": key, "value": value, "timestamp": stamp, "step": step}


def test_a_client_batch_gives_the_points_the_item_path_gives() -> None:
    batch = [
        _metric(f"m{k}", 0.25 * k + 0.125, s, 1_700_000_000_000 + s)
        for s in range(50)
        for k in range(4)
    ]
    batch = orjson.loads(orjson.dumps(batch))  # as the server reads it
    points = to_points(batch)
    assert points == _by_items(batch)
    assert points[5] == ("m1", 0.375, 1, 1_700_000_000.001)
    assert to_points([]) == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"key": "loss", "value": 2, "timestamp": 1000}, ("loss", 2.0, 0, 1.0)),  # int, no step
        (_metric(step=None), ("loss", 0.5, 0, 1_700_000_000.0)),
        (_metric(step="7"), ("loss", 0.5, 7, 1_700_000_000.0)),  # int64 as a string
        (_metric(stamp="1000"), ("loss", 0.5, 3, 1.0)),
        (_metric(value="1.5"), ("loss", 1.5, 3, 1_700_000_000.0)),
    ],
)
def test_other_spellings_take_the_item_path_and_are_kept(item: Any, expected: Any) -> None:
    assert to_points([_metric(), item]) == [("loss", 0.5, 3, 1_700_000_000.0), expected]


def test_a_metric_without_a_timestamp_is_stamped_now() -> None:
    ((key, _, _, seconds),) = to_points([{"key": "loss", "value": 1.0, "step": 0}])
    assert key == "loss" and seconds > 1_700_000_000


@pytest.mark.parametrize(
    ("item", "says"),
    [
        (_metric(value="NaN"), "finite"),
        (_metric(value=float("inf")), "finite"),
        (_metric(value="high"), "not a number"),
        (_metric(value=True), "real number"),
        (_metric(step=-1), "step"),
        (_metric(step=True), "step"),
        (_metric(step="x"), "step"),
        (_metric(stamp=1.5), "milliseconds"),
        (_metric(key="bad key!"), "may only use"),
        (_metric(key=""), "must not be empty"),
        (_metric(key=["a"]), "must be a string"),  # unhashable: refused, not a crash
        ({"value": 1.0}, "must be a string"),
        (["loss", 1.0], "must be an object"),
        ("loss", "must be an object"),
    ],
)
def test_a_bad_metric_anywhere_in_a_batch_is_refused_with_the_reason(item: Any, says: str) -> None:
    batch = [_metric(step=s) for s in range(20)]
    batch.insert(7, item)
    with pytest.raises(ValidationError, match=says):
        to_points(batch)


def test_a_batch_whose_sum_overflows_is_still_accepted() -> None:
    big = 1.5e308
    assert [p[1] for p in to_points([_metric(value=big), _metric(value=big)])] == [big, big]


def test_metrics_must_be_a_list() -> None:
    with pytest.raises(ValidationError, match="must be a list"):
        to_points({"key": "loss"})


def test_copies_for_a_logged_model_are_recognised() -> None:
    assert not linked_to_models([_metric(), _metric()])
    assert linked_to_models([_metric(), {**_metric(), "model_id": "m-1"}])
    assert linked_to_models(["odd", {**_metric(), "model_id": "m-1"}])
    assert not linked_to_models(["odd", _metric()])
    assert not linked_to_models("odd")
