"""The DAG a pipeline function records: nodes are step calls, edges are `StepOutput`s.

Calling a step inside a `@pipeline` function does not run it; it adds a node and returns a
`StepOutput` that stands for the step's future result. Passing that placeholder to another
step (directly, or inside a list, tuple or dict) draws an edge. `output["key"]` or
`output[0]` picks a part of a result. Nodes are named after their step; a step called twice
gets `name-2`, `name-3`, … in call order, so names are stable from one run to the next.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import ValidationError

if TYPE_CHECKING:
    from loopml.pipelines.steps import Step

_recording: contextvars.ContextVar[Graph | None] = contextvars.ContextVar(
    "loopml_pipeline_graph", default=None
)


@dataclass(frozen=True)
class StepOutput:
    """The future result of node `node` (or the part of it that `path` indexes)."""

    node: str
    path: tuple[str | int, ...] = ()

    def __getitem__(self, key: str | int) -> StepOutput:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise ValidationError(f"a step output is indexed by a name or a position, got {key!r}")
        return StepOutput(self.node, (*self.path, key))

    def __bool__(self) -> bool:
        raise ValidationError(
            f"the output of step {self.node!r} is not known while the pipeline is being "
            "defined; pass it to another step instead of testing it"
        )

    def __iter__(self) -> Iterator[Any]:
        raise ValidationError(
            f"the output of step {self.node!r} cannot be unpacked while the pipeline is being "
            "defined; index it instead (out[0], out['key'])"
        )


@dataclass
class Node:
    """One step call: its arguments may hold `StepOutput`s of the nodes it depends on."""

    name: str
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)


class Graph:
    """Nodes in the order the pipeline function called their steps (a topological order)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._calls: dict[str, int] = {}

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepOutput:
        try:
            inspect.signature(step.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise ValidationError(f"step {step.name!r} cannot take these arguments: {exc}") from exc
        count = self._calls.get(step.name, 0) + 1
        self._calls[step.name] = count
        name = step.name if count == 1 else f"{step.name}-{count}"
        depends: list[str] = []
        for output in outputs_in((args, kwargs)):
            if output.node not in self.nodes:
                raise ValidationError(
                    f"step {name!r} takes the output of {output.node!r}, which belongs to "
                    "another pipeline"
                )
            if output.node not in depends:
                depends.append(output.node)
        self.nodes[name] = Node(name, step, args, dict(kwargs), depends)
        return StepOutput(name)

    def ready(self, done: set[str], started: set[str]) -> list[Node]:
        """Nodes not started whose dependencies are all done, in call order."""
        return [
            n
            for n in self.nodes.values()
            if n.name not in started and all(d in done for d in n.depends_on)
        ]

    def downstream(self, name: str) -> set[str]:
        """Every node that needs `name`, directly or not."""
        found: set[str] = set()
        for node in self.nodes.values():  # call order is topological
            if name in node.depends_on or found & set(node.depends_on):
                found.add(node.name)
        return found


def current_graph() -> Graph | None:
    """The graph being recorded by the pipeline function running now, if any."""
    return _recording.get()


@contextmanager
def recording(graph: Graph) -> Iterator[Graph]:
    token = _recording.set(graph)
    try:
        yield graph
    finally:
        _recording.reset(token)


def outputs_in(value: Any) -> Iterator[StepOutput]:
    """Every `StepOutput` inside `value` (lists, tuples, sets and dict values searched)."""
    if isinstance(value, StepOutput):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from outputs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from outputs_in(item)


def substitute(value: Any, replace: Callable[[StepOutput], Any]) -> Any:
    """`value` with each `StepOutput` replaced by `replace(output)`, containers rebuilt."""
    if isinstance(value, StepOutput):
        return replace(value)
    if isinstance(value, list):
        return [substitute(v, replace) for v in value]
    if isinstance(value, tuple):
        items = [substitute(v, replace) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, set | frozenset):
        return type(value)(substitute(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, replace) for k, v in value.items()}
    return value


def pick(value: Any, path: tuple[str | int, ...], node: str) -> Any:
    """The part of a step's result that `path` indexes, with a clear error when absent."""
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValidationError(
                f"the output of step {node!r} has no item {key!r} (it is a {type(value).__name__})"
            ) from exc
    return value
