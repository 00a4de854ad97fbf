"""A run as the runs routes send it: the same document as `RunRecord.to_dict()`."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from loopml.server.routes.runs import run_document
from loopml.tracking.records import RunRecord

ENVIRONMENT = {"python": "3.11.7", "packages": 164, "entry_point": {"argv": ["train.py", "é"]}}


def _record(environment: Any) -> RunRecord:
    return RunRecord(
        id="run-0123456789abcdef",
        experiment="bikes",
        name="gbm",
        status="FINISHED",
        start_time=1.5,
        end_time=2.25,
        parent_id=None,
        params={"alpha": "0.1"},
        metrics={"rmse": 0.30000000000000004},
        tags={"team": "ml"},
        inputs=[{"dataset": "dataset:bikes@3", "id": "ds-1", "role": "training"}],
        git_commit="abc",
        git_dirty=True,
        environment_json=environment,
        created_by="ana",
    )


@pytest.mark.parametrize(
    "environment", [json.dumps(ENVIRONMENT), ENVIRONMENT, None], ids=["text", "dict", "none"]
)
def test_a_run_document_reads_back_as_the_record(environment: Any) -> None:
    record = _record(environment)
    sent = orjson.loads(orjson.dumps(run_document(record)))
    assert sent == json.loads(json.dumps(record.to_dict()))
    assert RunRecord.from_dict(sent).environment == record.environment
    assert RunRecord.from_dict(sent) == RunRecord.from_dict(record.to_dict())


def test_the_document_names_every_field_of_the_record() -> None:
    assert set(run_document(_record(None))) == set(_record(None).to_dict())
