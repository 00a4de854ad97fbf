"""One conformance suite for every executor: the same pipeline gives the same results
(output hashes, cache keys, outputs) in-process, in a process pool and on Ray."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import (
    ExecutorCapabilities,
    PipelineFailedError,
    make_executor,
    pipeline,
    step,
)
from loopml.pipelines.executors import Executor
from loopml.sdk import Client
from tests.pipelines import sample_pipelines as sp

EXECUTORS = ["local", "process", "ray"]


@pytest.fixture(params=EXECUTORS)
def executor_name(request: pytest.FixtureRequest, importable_tests: None) -> Iterator[str]:
    if request.param == "ray":
        request.getfixturevalue("ray_instance")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # raised inside Ray's client code
        yield request.param


def _square(value: int) -> int:
    return value * value


def test_an_executor_runs_tasks_and_declares_what_it_can(
    executor_name: str, client: Client
) -> None:
    executor: Executor = make_executor(executor_name, client.settings, max_workers=2)
    try:
        futures = [executor.submit(_square, n) for n in range(4)]
        assert [f.result(timeout=120) for f in futures] == [0, 1, 4, 9]
        caps = executor.capabilities
        assert isinstance(caps, ExecutorCapabilities)
        assert caps.name == executor_name
        assert caps.separate_processes == (executor_name != "local")
        assert caps.parallel == (executor_name != "local")
    finally:
        executor.shutdown()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return {}


def test_the_same_pipeline_gives_the_same_results_everywhere(
    executor_name: str,
    make_client: Callable[..., Client],
    tmp_path_factory: pytest.TempPathFactory,
    reference: dict[str, Any],
) -> None:
    client = make_client(root=tmp_path_factory.mktemp(f"ws-{executor_name}"))

    result = sp.etl.run(client, executor=executor_name, max_workers=2, n=25)

    seen = {
        name: (s.cache_key, s.output.digest if s.output else None)
        for name, s in result.steps.items()
    }
    assert result.status == "FINISHED"
    assert result.executor == executor_name
    assert result.output["rows"] == 25.0
    expected = reference.setdefault("etl", (seen, result.output))
    assert seen == expected[0]
    assert result.output == expected[1]
    summarize = client.get_run(result.steps["summarize"].run_id or "")
    assert summarize.metrics["mean_x2"] == 24.0  # logged by the worker's own client
    assert summarize.parent_id == result.run_id

    again = sp.etl.run(client, executor=executor_name, n=25)
    assert set(again.cached) == set(again.steps)


def test_a_failure_in_a_worker_fails_the_pipeline(
    executor_name: str, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    markers = tmp_path_factory.mktemp("markers")
    with pytest.raises(PipelineFailedError, match="boom at 21") as caught:
        sp.failing.run(client, executor=executor_name, marker_dir=str(markers))

    failed = caught.value.result.steps["explode"]
    assert client.get_run(failed.run_id or "").status == "FAILED"


def test_steps_defined_in_a_function_are_refused_by_worker_executors(client: Client) -> None:
    @step
    def inner() -> int:
        return 1

    @pipeline(name="local-only")
    def nested() -> object:
        return inner()

    with pytest.raises(ValidationError, match="module-level function"):
        nested.run(client, executor="process")
    assert nested.run(client).output == 1


def test_max_workers_must_be_positive(client: Client) -> None:
    with pytest.raises(ValidationError, match="max_workers"):
        make_executor("process", client.settings, max_workers=0)
