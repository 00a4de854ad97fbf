"""Pipelines by import path, as the CLI and the controller launch them."""

from __future__ import annotations

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.pipelines import load_pipeline, run_pipeline
from loopml.sdk import Client
from tests.pipelines import sample_pipelines as sp


def test_a_pipeline_loads_and_runs_by_import_path(client: Client) -> None:
    assert load_pipeline("tests.pipelines.sample_pipelines:etl") is sp.etl
    result = run_pipeline("tests.pipelines.sample_pipelines:etl", client, params={"n": 4})
    assert result.status == "FINISHED" and result.output["rows"] == 4.0


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("tests.pipelines.sample_pipelines", ValidationError, "package.module:attr"),
        (":etl", ValidationError, "both the module"),
        ("tests.pipelines.nope:etl", NotFoundError, "cannot import"),
        ("tests.pipelines.sample_pipelines:nope", NotFoundError, "no attribute"),
        ("tests.pipelines.sample_pipelines:SCALE", ValidationError, "not a pipeline"),
    ],
)
def test_bad_paths_say_what_to_fix(path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load_pipeline(path)


def test_params_must_be_a_dict(client: Client) -> None:
    with pytest.raises(ValidationError, match="params must be a dict"):
        run_pipeline("tests.pipelines.sample_pipelines:etl", client, params=[1])  # type: ignore[arg-type]
