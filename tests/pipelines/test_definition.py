"""Pipelines end to end: parent and child runs, caching, failures, and a killed run."""

from __future__ import annotations

import multiprocessing.context
import os
import signal
import time
from pathlib import Path

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import PipelineFailedError, StepCache, pipeline, step
from loopml.sdk import Client
from tests.pipelines import sample_pipelines as sp


def test_a_pipeline_run_is_a_parent_run_with_one_child_per_step(
    client: Client, tmp_path: Path
) -> None:
    result = sp.etl.run(client, n=10, marker_dir=str(tmp_path))

    assert result.status == "FINISHED"
    assert result.output == {
        "mean_x2": 9.0,
        "noise_sd": pytest.approx(0.68, abs=0.01),
        "rows": 10.0,
    }
    parent = client.get_run(result.run_id)
    assert parent.experiment == "etl"
    assert parent.tags["loopml.pipeline"] == "etl"
    assert parent.params == {"n": "10", "marker_dir": str(tmp_path)}
    children = client.search_runs("etl")
    by_name = {r.name: r for r in children if r.parent_id == result.run_id}
    assert set(by_name) == {"load", "featurize", "summarize", "moments", "combine"}
    summarize = by_name["summarize"]
    assert summarize.tags["loopml.cached"] == "false"
    assert summarize.tags["loopml.cache_key"] == result.steps["summarize"].cache_key
    assert summarize.metrics["mean_x2"] == 9.0  # logged through current_run()
    assert summarize.params["frame"] == "<output of featurize>"


def test_a_second_run_takes_every_step_from_the_cache(client: Client, tmp_path: Path) -> None:
    first = sp.etl.run(client, n=10, marker_dir=str(tmp_path))
    second = sp.etl.run(client, n=10, marker_dir=str(tmp_path))

    assert sp.executed(tmp_path).count("load") == 1
    assert set(second.cached) == set(second.steps)
    assert second.output == first.output
    hit = client.get_run(second.steps["load"].run_id or "")
    assert hit.tags["loopml.cached"] == "true"
    assert hit.tags["loopml.cached_from"] == first.steps["load"].run_id
    assert second.steps["load"].cached_from == first.steps["load"].run_id
    assert second.value("featurize")["x2"].tolist() == [2.0 * i for i in range(10)]


def test_new_params_rerun_only_the_steps_they_reach(client: Client, tmp_path: Path) -> None:
    sp.etl.run(client, n=10, marker_dir=str(tmp_path))
    again = sp.etl.run(client, n=12, marker_dir=str(tmp_path))

    assert again.cached == []
    assert sp.executed(tmp_path).count("load") == 2


def test_a_step_without_cache_always_runs(client: Client, tmp_path: Path) -> None:
    calls = tmp_path / "calls"

    @step(cache=False)
    def stamp(path: str) -> int:
        with open(path, "a") as handle:
            handle.write("x")
        return 1

    @pipeline(name="uncached")
    def uncached(path: str) -> object:
        return stamp(path)

    uncached.run(client, path=str(calls))
    result = uncached.run(client, path=str(calls))

    assert calls.read_text() == "xx"
    assert result.cached == []
    assert StepCache(client.stores).lookup(result.steps["stamp"].cache_key) is None


def test_a_failing_step_fails_its_run_and_the_pipeline_and_is_not_cached(
    client: Client, tmp_path: Path
) -> None:
    with pytest.raises(PipelineFailedError, match="explode") as caught:
        sp.failing.run(client, marker_dir=str(tmp_path))

    result = caught.value.result
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert result.status == "FAILED"
    assert result.steps["first"].status == "FINISHED"
    failed = result.steps["explode"]
    assert failed.status == "FAILED"
    assert "boom at 21" in (failed.error or "")
    assert client.get_run(failed.run_id or "").status == "FAILED"
    assert "RuntimeError: boom at 21" in (client.get_run(failed.run_id or "").error or "")
    assert client.get_run(result.run_id).status == "FAILED"
    assert StepCache(client.stores).lookup(failed.cache_key) is None
    assert StepCache(client.stores).lookup(result.steps["first"].cache_key) is not None


def test_steps_after_a_failure_are_skipped(client: Client, tmp_path: Path) -> None:
    @step
    def after(value: int) -> int:
        return value

    @pipeline(name="failing-chain")
    def chain(marker_dir: str) -> object:
        return after(sp.explode(sp.first(marker_dir)))

    with pytest.raises(PipelineFailedError) as caught:
        chain.run(client, marker_dir=str(tmp_path))

    assert caught.value.result.steps["after"].status == "SKIPPED"
    assert caught.value.result.steps["after"].run_id is None


def test_invalid_params_and_empty_pipelines_say_what_to_fix(client: Client) -> None:
    with pytest.raises(ValidationError, match="takes: n, marker_dir"):
        sp.etl.run(client, rows=3)

    @pipeline
    def empty() -> None:
        return None

    with pytest.raises(ValidationError, match="called no steps"):
        empty.run(client)
    with pytest.raises(ValidationError, match="unknown executor 'spark'"):
        sp.etl.run(client, executor="spark")
    with pytest.raises(ValidationError, match="pipeline name"):
        pipeline(name="no spaces allowed")(lambda: None)


def _run_two_steps(workspace: str, marker_dir: str) -> None:
    """Child process: run the pipeline that blocks in its second step."""
    from loopml.config import load_settings

    client = Client(load_settings(Path(workspace), environ={}))
    sp.two_steps.run(client, marker_dir=marker_dir)


def test_a_killed_pipeline_resumes_from_its_completed_steps(
    client: Client, tmp_path: Path, spawn_context: multiprocessing.context.SpawnContext
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    child = spawn_context.Process(
        target=_run_two_steps, args=(str(client.settings.root), str(markers))
    )
    child.start()
    try:
        deadline = time.monotonic() + 60
        while not (markers / "second-started").exists():
            assert child.is_alive(), "the pipeline process died before step 2"
            assert time.monotonic() < deadline, "step 2 never started"
            time.sleep(0.02)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    finally:
        if child.is_alive():
            child.kill()
    assert sp.executed(markers) == ["first"]

    (markers / "release").touch()
    result = sp.two_steps.run(client, marker_dir=str(markers))

    assert result.output == 42
    assert result.cached == ["first"]
    assert sp.executed(markers) == ["first", "second"]  # step 1 was never repeated
