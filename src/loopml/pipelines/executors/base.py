"""The executor interface: where step tasks run.

An executor takes a picklable task function and payload and returns a future. The pipeline
runner decides what is ready and records everything; an executor only runs tasks. What an
executor can do is declared as data (`ExecutorCapabilities`), never discovered by trial.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ExecutorCapabilities:
    """`parallel`: several tasks at once; `separate_processes`: tasks run in other
    processes, so steps and their arguments must pickle and workers open their own client."""

    name: str
    parallel: bool
    separate_processes: bool
    max_workers: int


class Executor(Protocol):
    """Run tasks; `shutdown` waits for the running ones and frees the workers."""

    capabilities: ExecutorCapabilities

    def submit(self, fn: Callable[[P], R], payload: P) -> Future[R]: ...

    def shutdown(self) -> None: ...


def completed(fn: Callable[[Any], Any], payload: Any) -> Future[Any]:
    """A future already holding `fn(payload)` (or the exception it raised)."""
    future: Future[Any] = Future()
    try:
        future.set_result(fn(payload))
    except BaseException as exc:
        future.set_exception(exc)
    return future
