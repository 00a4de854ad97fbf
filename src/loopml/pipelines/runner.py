"""Running a recorded graph: cache look-ups, submission of ready steps, bookkeeping.

The runner lives in the calling process. For each node whose inputs are ready it computes
the cache key; a hit is recorded as a child run tagged `loopml.cached=true` that points at
the run which computed the output (`loopml.cached_from`) and the step is not executed; a
miss is submitted to the executor. Independent nodes are submitted together, so a parallel
executor runs them at the same time. After a failure nothing new is submitted; the steps
already running finish (and are cached), then the pipeline run ends FAILED.
"""

from __future__ import annotations

import inspect
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from loopml.artifacts.hashing import hash_bytes
from loopml.errors import ValidationError
from loopml.features.registry import FeatureRegistry
from loopml.pipelines.cache import StepCache, cache_key, canonical_arguments
from loopml.pipelines.context import PipelineClient
from loopml.pipelines.executors import Executor
from loopml.pipelines.fingerprint import code_fingerprint
from loopml.pipelines.graph import Graph, Node, StepOutput, pick, substitute
from loopml.pipelines.outputs import StoredOutput, canonical_json, load_output
from loopml.pipelines.results import PipelineFailedError, PipelineResult, StepResult
from loopml.pipelines.worker import StepOutcome, StepTask, detached, execute_step, needed_inputs
from loopml.tracking import Run


class PipelineRunner:
    """One execution of a pipeline's graph under a parent run."""

    def __init__(
        self,
        client: PipelineClient,
        executor: Executor,
        *,
        pipeline: str,
        graph: Graph,
        parent: Run,
    ) -> None:
        self.client = client
        self.executor = executor
        self.pipeline = pipeline
        self.graph = graph
        self.parent = parent
        self.cache = StepCache(client.stores)
        self.features = FeatureRegistry(client.stores)
        self.outputs: dict[str, StoredOutput] = {}
        self.results: dict[str, StepResult] = {}
        self.failure: StepOutcome | None = None
        self._fingerprints: dict[int, str] = {}
        if executor.capabilities.separate_processes:
            for node in graph.nodes.values():
                if not node.step.importable:
                    raise ValidationError(
                        f"step {node.step.name!r} is not a module-level function, so the "
                        f"{executor.capabilities.name} executor cannot send it to a worker; "
                        "define it at the top level of an importable module, or use "
                        "executor='local'"
                    )

    # ------------------------------------------------------------------ keys
    def fingerprint(self, node: Node) -> str:
        found = self._fingerprints.get(id(node.step))
        if found is None:
            found = self._fingerprints[id(node.step)] = code_fingerprint(node.step.fn)
        return found

    def input_hash(self, output: StepOutput) -> str:
        digest = self.outputs[output.node].digest
        if not output.path:
            return digest
        return hash_bytes(canonical_json([digest, list(output.path)]))

    def key_of(self, node: Node) -> str:
        arguments = canonical_arguments(
            node.step, node.args, node.kwargs, self.input_hash, self.client.dataset_service
        )
        return cache_key(self.fingerprint(node), arguments)

    # ------------------------------------------------------------------ loop
    def execute(self) -> None:
        started: set[str] = set()
        running: dict[Future[StepOutcome], tuple[Node, str]] = {}
        while True:
            progressed = True
            while progressed and self.failure is None:
                progressed = False
                for node in self.graph.ready(set(self.results), started):
                    started.add(node.name)
                    key = self.key_of(node)
                    hit = self.cache.lookup(key) if node.step.cache else None
                    if hit is not None and hit.stale_reads(
                        self.client.dataset_service, self.features
                    ):
                        hit = None  # a dataset or feature definition it read changed since
                    if hit is not None:
                        self._record_hit(node, key, hit.output, hit.run_id)
                        progressed = True  # its dependants may be ready now
                        continue
                    running[self.executor.submit(execute_step, self._task(node, key))] = (
                        node,
                        key,
                    )
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                node, key = running.pop(future)
                self._record_outcome(node, key, future.result())
        for name, node in self.graph.nodes.items():
            if name not in self.results:
                self.results[name] = StepResult(name, node.step.name, "SKIPPED", cache_key="")

    def _task(self, node: Node, key: str) -> StepTask:
        task = StepTask(
            settings=self.client.settings,
            factory=type(self.client),
            pipeline=self.pipeline,
            parent_run_id=self.parent.id,
            node=node.name,
            step=node.step,
            args=node.args,
            kwargs=node.kwargs,
            inputs=needed_inputs((node.args, node.kwargs), self.outputs),
            cache_key=key,
            params=_loggable(node),
            client=self.client,
        )
        return detached(task) if self.executor.capabilities.separate_processes else task

    def _record_hit(self, node: Node, key: str, output: StoredOutput, source_run: str) -> None:
        run = self.client.start_run(
            self.pipeline,
            node.name,
            parent=self.parent.id,
            tags={
                "loopml.step": node.step.name,
                "loopml.cache_key": key,
                "loopml.cached": "true",
                "loopml.cached_from": source_run,
                "loopml.output_kind": output.kind,
                "loopml.output_digest": output.digest,
            },
            capture_code=False,
        )
        run.end("FINISHED")
        self.outputs[node.name] = output
        self.results[node.name] = StepResult(
            node.name,
            node.step.name,
            "FINISHED",
            key,
            cached=True,
            run_id=run.id,
            cached_from=source_run,
            output=output,
        )

    def _record_outcome(self, node: Node, key: str, outcome: StepOutcome) -> None:
        failed = outcome.error is not None
        if failed and self.failure is None:
            self.failure = outcome
        if outcome.output is not None:
            self.outputs[node.name] = outcome.output
        self.results[node.name] = StepResult(
            node.name,
            node.step.name,
            "FAILED" if failed else "FINISHED",
            key,
            run_id=outcome.run_id,
            output=outcome.output,
            seconds=outcome.seconds,
            error=outcome.error,
        )

    # ------------------------------------------------------------------ results
    def result(self, returned: Any, executor: str) -> PipelineResult:
        status = "FAILED" if self.failure is not None else "FINISHED"
        result = PipelineResult(
            pipeline=self.pipeline,
            run_id=self.parent.id,
            status=status,
            executor=executor,
            steps={name: self.results[name] for name in self.graph.nodes},
            _client=self.client,
        )
        if status == "FINISHED":
            loaded: dict[str, Any] = {}

            def value_of(output: StepOutput) -> Any:
                if output.node not in loaded:
                    loaded[output.node] = load_output(self.client, self.outputs[output.node])
                return pick(loaded[output.node], output.path, output.node)

            result.output = substitute(returned, value_of)
        return result

    def finish(self, result: PipelineResult) -> None:
        """Record the summary on the parent run and end it."""
        summary = result.to_dict()
        self.parent.log_json(summary, "pipeline/steps.json")
        self.parent.set_tags(
            {
                "loopml.cached_steps": str(len(result.cached)),
                "loopml.executed_steps": str(len(result.executed)),
            }
        )
        if self.failure is None:
            self.parent.end("FINISHED")
            return
        message = (
            f"pipeline {self.pipeline!r} failed: step {self.failure.node!r} raised "
            f"{self.failure.error} (run {self.failure.run_id} has the traceback)"
        )
        self.parent.end("FAILED", error=message)
        error = PipelineFailedError(message, result)
        if self.failure.exception is not None:
            raise error from self.failure.exception
        raise error


def _loggable(node: Node) -> dict[str, str]:
    """A step's literal scalar arguments as run params; an input says whose output it is."""
    bound = inspect.signature(node.step.fn).bind(*node.args, **node.kwargs)
    bound.apply_defaults()
    params: dict[str, str] = {}
    for name, value in bound.arguments.items():
        if isinstance(value, bool | int | float | str) or value is None:
            params[name] = str(value)[:500]
        elif isinstance(value, StepOutput):
            params[name] = f"<output of {value.node}>"
    return params
