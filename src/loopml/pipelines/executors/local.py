"""The in-process executor: tasks run one at a time in the calling thread.

The default: no start-up cost, breakpoints and prints work, and steps need not pickle.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from loopml.pipelines.executors.base import ExecutorCapabilities, completed

P = TypeVar("P")
R = TypeVar("R")


class LocalExecutor:
    capabilities = ExecutorCapabilities(
        name="local", parallel=False, separate_processes=False, max_workers=1
    )

    def submit(self, fn: Callable[[P], R], payload: P) -> Future[R]:
        return completed(fn, payload)

    def shutdown(self) -> None:
        return None
