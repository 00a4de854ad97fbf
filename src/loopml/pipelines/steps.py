"""`@step`: a plain function that, called inside a pipeline, becomes a node of its graph.

Outside a pipeline a step is just its function: calling it runs it, which keeps steps easy
to unit-test. Inside a `@pipeline` function the call is recorded instead and returns a
`StepOutput` placeholder that other steps take as an argument (see graph.py).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, overload

from loopml.errors import ValidationError
from loopml.pipelines.graph import current_graph
from loopml.validation import check_name


class Step:
    """A function with a name and a cache switch; picklable by reference to its module."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, cache: bool = True):
        if not callable(fn):
            raise ValidationError(f"@step decorates a function, got {type(fn).__name__}")
        if not isinstance(cache, bool):
            raise ValidationError(f"cache must be True or False, got {cache!r}")
        self.fn = fn
        self.name = name if name is not None else fn.__name__
        check_name("step", self.name)
        self.cache = cache
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<step {self.name!r} cache={self.cache}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = current_graph()
        if graph is None:
            return self.fn(*args, **kwargs)
        return graph.add(self, args, kwargs)

    @property
    def importable(self) -> bool:
        """Whether another process can find this step by module and name (pickling needs it)."""
        qualname = getattr(self.fn, "__qualname__", "")
        if "<locals>" in qualname or "<lambda>" in qualname:
            return False
        try:
            return _resolve(self.fn.__module__, qualname) is self
        except (ImportError, AttributeError):
            return False

    def __reduce__(self) -> tuple[Any, ...]:
        # The module attribute is this Step, not the function: pickle the reference to it.
        return (_resolve, (self.fn.__module__, self.fn.__qualname__))


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *, name: str | None = None, cache: bool = True
) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None, cache: bool = True
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step: `@step` or `@step(name="train", cache=False)`."""
    if fn is not None:
        return Step(fn, name=name, cache=cache)

    def decorate(inner: Callable[..., Any]) -> Step:
        return Step(inner, name=name, cache=cache)

    return decorate
