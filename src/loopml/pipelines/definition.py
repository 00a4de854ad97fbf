"""`@pipeline`: a function that calls steps, run as one parent run with a child per step.

The function body only wires steps together (see graph.py); `Pipeline.run` records the
graph, then executes it with the chosen executor. The pipeline run is a tracking run in
the experiment named after the pipeline, tagged `loopml.pipeline`; each step is a child
run tagged `loopml.step`, `loopml.cache_key` and `loopml.cached`.

The pipeline layer sits below the SDK, so it never opens a client itself: `run` takes one,
or calls the `default_client` the pipeline was declared with (`@loopml.pipeline`, the
SDK's decorator, passes the workspace's default client).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, overload

from loopml.errors import ValidationError
from loopml.pipelines.context import PipelineClient
from loopml.pipelines.executors import make_executor
from loopml.pipelines.graph import Graph, recording
from loopml.pipelines.queries import PIPELINE_TAG
from loopml.pipelines.results import PipelineResult
from loopml.pipelines.runner import PipelineRunner
from loopml.validation import check_name

ClientFactory = Callable[[], PipelineClient]


class Pipeline:
    """A named pipeline function. Run it with `.run(client, executor=..., **params)`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        default_client: ClientFactory | None = None,
    ) -> None:
        if not callable(fn):
            raise ValidationError(f"@pipeline decorates a function, got {type(fn).__name__}")
        self.fn = fn
        self.default_client = default_client
        self.name = check_name("pipeline", name if name is not None else fn.__name__)
        self.__doc__ = fn.__doc__
        self.__module__ = fn.__module__

    def __repr__(self) -> str:
        return f"<pipeline {self.name!r}>"

    def build(self, params: dict[str, Any] | None = None) -> tuple[Graph, Any]:
        """Record the graph for `params`; returns it with what the function returned."""
        try:
            bound = inspect.signature(self.fn).bind(**(params or {}))
        except TypeError as exc:
            expected = ", ".join(inspect.signature(self.fn).parameters) or "none"
            raise ValidationError(
                f"pipeline {self.name!r} cannot take these params ({exc}); it takes: {expected}"
            ) from exc
        graph = Graph()
        with recording(graph):
            returned = self.fn(*bound.args, **bound.kwargs)
        if not graph.nodes:
            raise ValidationError(
                f"pipeline {self.name!r} called no steps; call @step functions in its body"
            )
        return graph, returned

    def run(
        self,
        client: PipelineClient | None = None,
        *,
        executor: str = "local",
        max_workers: int | None = None,
        **params: Any,
    ) -> PipelineResult:
        """Execute the pipeline; raises `PipelineFailedError` (with `.result`) if a step
        fails. Without `client`, the pipeline's `default_client` supplies one."""
        graph, returned = self.build(params)
        active = client if client is not None else self._default_client()
        runner_executor = make_executor(executor, active.settings, max_workers)
        try:
            parent = active.start_run(
                self.name,
                params={k: str(v)[:500] for k, v in params.items()},
                tags={PIPELINE_TAG: self.name, "loopml.executor": executor},
                nested=True,
            )
            try:
                runner = PipelineRunner(
                    active, runner_executor, pipeline=self.name, graph=graph, parent=parent
                )
                runner.execute()
                result = runner.result(returned, executor)
            except KeyboardInterrupt:
                parent.end("KILLED", error="interrupted (KeyboardInterrupt)")
                raise
            except BaseException as exc:
                parent.end("FAILED", error=f"{type(exc).__name__}: {exc}")
                raise
            runner.finish(result)
        finally:
            runner_executor.shutdown()
        return result

    def _default_client(self) -> PipelineClient:
        if self.default_client is None:
            raise ValidationError(
                f"pipeline {self.name!r} needs a client: pass one (`.run(client, ...)`), or "
                "declare it with `@loopml.pipeline` to run on the workspace's default client"
            )
        return self.default_client()


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(
    *, name: str | None = None, default_client: ClientFactory | None = None
) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    default_client: ClientFactory | None = None,
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Declare a pipeline: `@pipeline` or `@pipeline(name="train-bikes")`."""
    if fn is not None:
        return Pipeline(fn, name=name, default_client=default_client)

    def decorate(inner: Callable[..., Any]) -> Pipeline:
        return Pipeline(inner, name=name, default_client=default_client)

    return decorate
