"""Listing pipeline runs with their step, cached and failed counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import PipelineFailedError, list_pipeline_runs
from loopml.sdk import Client
from tests.pipelines import sample_pipelines as sp


def test_runs_are_listed_newest_first_with_counts(client: Client, tmp_path: Path) -> None:
    sp.etl.run(client, n=3)
    sp.etl.run(client, n=3)
    with pytest.raises(PipelineFailedError):
        sp.failing.run(client, marker_dir=str(tmp_path))
    with client.start_run("etl"):  # a plain run in the same experiment is not a pipeline run
        pass

    found = list_pipeline_runs(client.stores)
    assert [(r.pipeline, r.status, r.steps, r.cached, r.failed) for r in found] == [
        ("failing", "FAILED", 2, 0, 1),
        ("etl", "FINISHED", 5, 5, 0),
        ("etl", "FINISHED", 5, 0, 0),
    ]
    assert len(list_pipeline_runs(client.stores, "etl", limit=1)) == 1
    with pytest.raises(ValidationError, match="limit"):
        list_pipeline_runs(client.stores, limit=0)
