"""The launchers: pipelines through `Pipeline.run`, plain functions called directly."""

from __future__ import annotations

from pathlib import Path

from loopml.controller import PipelineRunLauncher
from loopml.pipelines.catalog import PipelineCatalog
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES
from tests.controller.helpers import lines


def test_a_plain_function_is_called_with_its_params(client: Client, tmp_path: Path) -> None:
    PipelineCatalog(client.stores).register("plain", f"{PIPELINES}:no_trigger_param")
    log = tmp_path / "calls.jsonl"
    outcome = PipelineRunLauncher().launch(
        f"{PIPELINES}:no_trigger_param", {"log": str(log)}, client=client, key="tev-1"
    )
    assert outcome.status == "succeeded" and outcome.pipeline_run_id is None
    assert outcome.outputs == "ok" and lines(log) == [{"called": True}]


def test_a_pipeline_runs_and_a_failed_step_keeps_its_run(client: Client, tmp_path: Path) -> None:
    PipelineCatalog(client.stores).register("failing", f"{PIPELINES}:failing")
    outcome = PipelineRunLauncher().launch(
        "failing", {"workdir": str(tmp_path)}, client=client, key="tev-2"
    )
    assert outcome.status == "failed" and outcome.pipeline_run_id is not None
    assert client.get_run(outcome.pipeline_run_id).status == "FAILED"
    assert "no rows to train on" in (outcome.error or "")


def test_a_missing_target_is_a_failed_outcome(client: Client) -> None:
    outcome = PipelineRunLauncher().launch(
        f"{PIPELINES}:nothing_here", {}, client=client, key="tev-3"
    )
    assert outcome.status == "failed" and outcome.pipeline_run_id is None
    assert "nothing_here" in (outcome.error or "") and "is not registered" in (outcome.error or "")
