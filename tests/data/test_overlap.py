"""Leakage: the time range and the rows an evaluation set shares with training data."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from loopml.data.overlap import find_overlaps
from loopml.samples import load_bikeshare, split_by_months
from loopml.sdk import Client


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def test_an_evaluation_period_inside_the_training_period_is_found(
    client: Client, bikes: pd.DataFrame
) -> None:
    train = client.log_dataset(
        "bikes-train",
        split_by_months(bikes, ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]),
        time_column="timestamp",
    )
    late = client.log_dataset(
        "bikes-eval", split_by_months(bikes, ["May", "Jun", "Jul", "Aug"]), time_column="timestamp"
    )
    (overlap,) = find_overlaps(client.dataset_service, [train], late)
    may_june = split_by_months(bikes, ["May", "Jun"])
    assert overlap.rows_in_training_time == len(may_june)
    assert overlap.identical_rows == len(may_june)  # the same hours, the same rows
    assert overlap.time_range is not None
    assert overlap.time_range[0].startswith("2011-05-01")
    assert overlap.time_range[1].startswith("2011-06-30")
    message = overlap.describe()
    assert (
        f"{len(may_june):,} of its {late.row_count:,} rows fall in the training period" in message
    )
    assert message.startswith(
        "dataset:bikes-eval@1 overlaps the training data dataset:bikes-train@1"
    )


def test_a_later_period_does_not_overlap(client: Client, bikes: pd.DataFrame) -> None:
    train = client.log_dataset(
        "bikes-train", split_by_months(bikes, ["Jan", "Feb", "Mar"]), time_column="timestamp"
    )
    later = client.log_dataset(
        "bikes-eval", split_by_months(bikes, ["Apr", "May"]), time_column="timestamp"
    )
    assert find_overlaps(client.dataset_service, [train], later) == []


def test_shared_rows_are_found_without_a_time_column(client: Client) -> None:
    """A random split with duplicated rows leaking across (sklearn's diabetes data)."""
    frame = load_diabetes(as_frame=True).frame
    train_rows = frame.sample(frac=0.7, random_state=0)
    held_out = frame.drop(train_rows.index)
    train = client.log_dataset("diabetes-train", train_rows)
    clean = client.log_dataset("diabetes-test", held_out)
    assert find_overlaps(client.dataset_service, [train], clean) == []

    leaky = client.log_dataset("diabetes-test", pd.concat([held_out, train_rows.head(25)]))
    (overlap,) = find_overlaps(client.dataset_service, [train], leaky)
    assert overlap.identical_rows == 25
    assert overlap.rows_in_training_time == 0
    assert "25 rows are identical to training rows" in overlap.describe()


def test_the_same_version_overlaps_entirely(client: Client) -> None:
    frame = load_diabetes(as_frame=True).frame
    version = client.log_dataset("diabetes", frame)
    (overlap,) = find_overlaps(client.dataset_service, [version], version)
    assert overlap.identical_rows == len(frame)
