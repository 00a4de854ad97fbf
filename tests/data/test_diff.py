"""Dataset diffs: schema changes, row delta and per-column statistic deltas."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from loopml.data import DatasetVersion, diff_versions
from loopml.sdk import Client


@pytest.fixture
def old_and_new(client: Client) -> tuple[DatasetVersion, DatasetVersion]:
    old = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "city": ["paris", "paris", "rome", "oslo"],
            "price": [10.0, 20.0, 30.0, 40.0],
            "legacy": ["x", "y", "z", "w"],
        }
    )
    new = pd.DataFrame(
        {
            "id": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "city": ["paris", "rome", "rome", "lima", "lima", "lima"],
            "price": [20.0, 30.0, 40.0, 50.0, None, 70.0],
            "channel": ["web"] * 6,
        }
    )
    return client.datasets.log("sales", old), client.datasets.log("sales", new)


def test_schema_changes(old_and_new: tuple[DatasetVersion, DatasetVersion]) -> None:
    diff = diff_versions(*old_and_new)

    assert (diff.old, diff.new) == ("dataset:sales@1", "dataset:sales@2")
    assert diff.added == [{"name": "channel", "type": "VARCHAR"}]
    assert diff.removed == [{"name": "legacy", "type": "VARCHAR"}]
    assert diff.type_changed == [{"name": "id", "old": "BIGINT", "new": "DOUBLE"}]
    assert diff.schema_changed


def test_row_and_statistic_deltas(old_and_new: tuple[DatasetVersion, DatasetVersion]) -> None:
    diff = diff_versions(*old_and_new)

    assert (diff.rows_old, diff.rows_new, diff.row_delta) == (4, 6, 2)
    price = diff.columns["price"]
    assert price["mean"]["old"] == pytest.approx(25.0)
    assert price["mean"]["new"] == pytest.approx(42.0)
    assert price["mean"]["delta"] == pytest.approx(17.0)
    assert price["null_fraction"] == {
        "old": 0.0,
        "new": pytest.approx(1 / 6),
        "delta": pytest.approx(1 / 6),
    }
    assert price["max"]["delta"] == pytest.approx(30.0)
    assert set(diff.columns) == {"id", "city", "price"}  # columns in both versions only


def test_top_categories_that_appear_and_disappear(
    old_and_new: tuple[DatasetVersion, DatasetVersion],
) -> None:
    diff = diff_versions(*old_and_new)

    assert diff.columns["city"]["top_added"] == ["lima"]
    assert diff.columns["city"]["top_removed"] == ["oslo"]


def test_a_version_against_itself_has_no_changes(
    old_and_new: tuple[DatasetVersion, DatasetVersion],
) -> None:
    version = old_and_new[1]

    diff = diff_versions(version, version)

    assert not diff.schema_changed
    assert diff.row_delta == 0
    assert all(
        stat["delta"] in (0, None)
        for column in diff.columns.values()
        for name, stat in column.items()
        if isinstance(stat, dict)
    )


def test_to_dict_is_json_ready(old_and_new: tuple[DatasetVersion, DatasetVersion]) -> None:
    diff = diff_versions(*old_and_new)

    data = json.loads(json.dumps(diff.to_dict()))

    assert data["rows"] == {"old": 4, "new": 6, "delta": 2}
    assert data["added"] == diff.added
    assert data["columns"]["price"]["mean"]["delta"] == pytest.approx(17.0)


def test_diff_through_the_client(
    client: Client, old_and_new: tuple[DatasetVersion, DatasetVersion]
) -> None:
    diff = client.diff_datasets("sales@1", "dataset:sales@latest")

    assert diff == diff_versions(*old_and_new)
