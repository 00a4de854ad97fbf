"""A step that reads a dataset by name is recomputed once the name means new content."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loopml.data import DatasetRead, recording_reads
from loopml.pipelines.cache import CacheEntry, StepCache
from loopml.pipelines.outputs import StoredOutput
from loopml.samples import load_bikeshare
from loopml.sdk import Client
from loopml.store.schema import step_cache
from tests.pipelines import dataset_pipelines as dp


def _executed(marker_dir: Path) -> list[str]:
    path = marker_dir / "executed"
    return path.read_text().split() if path.exists() else []


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return load_bikeshare()


def _month(frame: pd.DataFrame, months: int) -> pd.DataFrame:
    return frame[frame["timestamp"] < frame["timestamp"].min() + pd.DateOffset(months=months)]


def test_the_service_notes_each_resolution_as_pinned_or_floating(
    client: Client, bikes: pd.DataFrame
) -> None:
    first = client.log_dataset("bikes", _month(bikes, 1))
    with recording_reads() as reads:
        client.datasets.get("bikes")
        client.datasets.get("bikes@1")
        client.datasets.get("dataset:bikes@latest")
        client.datasets.get(first.id)
    assert [(r.ref, r.pinned) for r in reads] == [
        ("bikes", False),
        ("bikes@1", True),
        ("dataset:bikes@latest", False),
        (first.id, True),
    ]
    assert {r.content_hash for r in reads} == {first.content_hash}
    client.datasets.get("bikes")  # outside the block nothing is collected
    assert len(reads) == 4


@pytest.mark.parametrize(
    ("pipe", "step_name"),
    [(dp.read_by_name, "load"), (dp.read_through_client, "load_through_client")],
)
def test_a_new_version_recomputes_a_step_that_loaded_the_dataset_by_name(
    client: Client, bikes: pd.DataFrame, tmp_path: Path, pipe: object, step_name: str
) -> None:
    january = client.log_dataset("bikes", _month(bikes, 1))
    first = pipe.run(client, name="bikes", marker_dir=str(tmp_path))  # type: ignore[attr-defined]
    assert first.output == january.row_count
    again = pipe.run(client, name="bikes", marker_dir=str(tmp_path))  # type: ignore[attr-defined]
    assert again.output == january.row_count
    assert _executed(tmp_path) == [step_name]  # the second run was answered from the cache

    two_months = client.log_dataset("bikes", _month(bikes, 2))
    fresh = pipe.run(client, name="bikes", marker_dir=str(tmp_path))  # type: ignore[attr-defined]
    assert fresh.output == two_months.row_count > january.row_count
    assert _executed(tmp_path) == [step_name, step_name]
    step_run = client.get_run(fresh.steps[step_name].run_id)
    assert two_months.id in {i["id"] for i in step_run.inputs}

    # the refreshed entry is cached again, and the replaced one left an audit event
    pipe.run(client, name="bikes", marker_dir=str(tmp_path))  # type: ignore[attr-defined]
    assert _executed(tmp_path) == [step_name, step_name]
    entry = StepCache(client.stores).lookup(fresh.steps[step_name].cache_key)
    assert entry is not None
    assert [r.uri for r in entry.reads] == [two_months.uri]


def test_a_pinned_version_stays_cached_after_a_new_version(
    client: Client, bikes: pd.DataFrame, tmp_path: Path
) -> None:
    january = client.log_dataset("bikes", _month(bikes, 1))
    dp.read_by_name.run(client, name="bikes@1", marker_dir=str(tmp_path))
    client.log_dataset("bikes", _month(bikes, 2))
    result = dp.read_by_name.run(client, name="bikes@1", marker_dir=str(tmp_path))
    assert result.output == january.row_count
    assert _executed(tmp_path) == ["load"]


def test_a_dataset_uri_argument_keys_the_cache_by_content(
    client: Client, bikes: pd.DataFrame, tmp_path: Path
) -> None:
    january = client.log_dataset("bikes", _month(bikes, 1))
    one = dp.count_by_uri.run(client, uri="dataset:bikes", marker_dir=str(tmp_path))
    client.log_dataset("bikes", _month(bikes, 2))
    two = dp.count_by_uri.run(client, uri="dataset:bikes", marker_dir=str(tmp_path))
    assert one.output == january.row_count < two.output
    assert one.steps["count_uri"].cache_key != two.steps["count_uri"].cache_key
    assert _executed(tmp_path) == ["count_uri", "count_uri"]


def test_a_missing_dataset_makes_the_entry_stale_not_an_error(
    client: Client, bikes: pd.DataFrame
) -> None:
    version = client.log_dataset("bikes", _month(bikes, 1))
    read = DatasetRead("gone", version.id, "dataset:gone@1", version.content_hash, False)
    output = StoredOutput("json", "d" * 64, value=1, inline=True)
    entry = CacheEntry("k", "p", "s", output, "r", 0.0, (read,))
    assert entry.stale_reads(client.dataset_service) == [
        "gone no longer resolves (was dataset:gone@1)"
    ]


@pytest.mark.slow
def test_reads_in_a_worker_process_reach_the_cache(
    client: Client, bikes: pd.DataFrame, tmp_path: Path, importable_tests: None
) -> None:
    client.log_dataset("bikes", _month(bikes, 1))
    dp.read_through_client.run(client, executor="process", name="bikes", marker_dir=str(tmp_path))
    two_months = client.log_dataset("bikes", _month(bikes, 2))
    fresh = dp.read_through_client.run(
        client, executor="process", name="bikes", marker_dir=str(tmp_path)
    )
    assert fresh.output == two_months.row_count
    assert _executed(tmp_path) == ["load_through_client", "load_through_client"]
    with client.stores.engine.connect() as conn:
        rows = conn.execute(step_cache.select()).fetchall()
    assert any(r.reads and r.reads[0]["uri"] == two_months.uri for r in rows)
