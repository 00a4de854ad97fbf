"""Executing one step: the task an executor runs, in-process or in a worker process.

The task opens (once per worker process) a client on the same workspace, starts the step's
child run, loads the inputs, calls the function, stores the output, records the cache entry
and only then ends the run: a step whose run says FINISHED is always a cache hit next time,
even if the pipeline process is killed right after.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loopml.config.settings import Settings
from loopml.data import DatasetVersion, recording_reads
from loopml.features.reads import recording_definitions
from loopml.pipelines.cache import DATASET_SCHEME, StepCache
from loopml.pipelines.context import PipelineClient, executing
from loopml.pipelines.graph import StepOutput, outputs_in, pick, substitute
from loopml.pipelines.outputs import StoredOutput, load_output, store_output
from loopml.pipelines.steps import Step

ClientFactory = Callable[[Settings], PipelineClient]


@dataclass(frozen=True)
class StepTask:
    """Everything a worker needs to run one node; pickles when `client` is None."""

    settings: Settings
    factory: ClientFactory
    pipeline: str
    parent_run_id: str
    node: str
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inputs: dict[str, StoredOutput]
    cache_key: str
    params: dict[str, str]
    client: PipelineClient | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StepOutcome:
    node: str
    run_id: str
    output: StoredOutput | None
    seconds: float
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions of user code do not always pickle; the traceback text always does.
        return (StepOutcome, (self.node, self.run_id, self.output, self.seconds, self.error))


_clients: dict[tuple[Any, str], PipelineClient] = {}
_clients_lock = threading.Lock()


def _client_for(task: StepTask) -> PipelineClient:
    if task.client is not None:
        return task.client
    key = (task.factory, task.settings.model_dump_json())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = task.factory(task.settings)
        return client


def execute_step(task: StepTask) -> StepOutcome:
    """Run one step as a child run of the pipeline run (see the module docstring)."""
    client = _client_for(task)
    started = time.perf_counter()
    run = client.start_run(
        task.pipeline,
        task.node,
        parent=task.parent_run_id,
        params=task.params,
        tags={
            "loopml.step": task.step.name,
            "loopml.cache_key": task.cache_key,
            "loopml.cached": "false",
        },
    )
    try:
        with executing(client, run):
            loaded = {node: load_output(client, stored) for node, stored in task.inputs.items()}

            def value_of(output: StepOutput) -> Any:
                return pick(loaded[output.node], output.path, output.node)

            args = substitute(task.args, value_of)
            kwargs = substitute(task.kwargs, value_of)
            for value in (*args, *kwargs.values()):
                if isinstance(value, DatasetVersion):
                    run.log_input(value)
                elif isinstance(value, str) and value.startswith(DATASET_SCHEME):
                    run.log_input(client.dataset_service.get(value))
            with recording_reads() as reads, recording_definitions() as definitions:
                result = task.step.fn(*args, **kwargs)
            for read in reads:
                run.log_input(client.dataset_service.get(read.version_id))
            output = store_output(client.stores, result)
            run.set_tags({"loopml.output_kind": output.kind, "loopml.output_digest": output.digest})
            run.flush()
            if task.step.cache:
                StepCache(client.stores).record(
                    task.cache_key,
                    pipeline=task.pipeline,
                    step=task.node,
                    output=output,
                    run_id=run.id,
                    reads=tuple(reads),
                    definitions=tuple(definitions),
                )
    except KeyboardInterrupt:
        run.end("KILLED", error="interrupted (KeyboardInterrupt)")
        raise
    except Exception as exc:
        error = "".join(traceback.format_exception(exc))
        run.end("FAILED", error=error)
        return StepOutcome(
            task.node, run.id, None, time.perf_counter() - started, _summary(exc), exc
        )
    run.end("FINISHED")
    return StepOutcome(task.node, run.id, output, time.perf_counter() - started)


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


def detached(task: StepTask) -> StepTask:
    """The task without the in-process client, for executors in other processes."""
    return replace(task, client=None)


def needed_inputs(args: Any, outputs: dict[str, StoredOutput]) -> dict[str, StoredOutput]:
    return {o.node: outputs[o.node] for o in outputs_in(args)}
