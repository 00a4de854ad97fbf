"""The process-pool executor: independent branches and sweep trials in parallel.

Workers are started with `spawn` (a fork of a process holding database connections and
threads is unsafe), so steps must be importable module-level functions.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from loopml.pipelines.executors.base import ExecutorCapabilities

P = TypeVar("P")
R = TypeVar("R")


class ProcessExecutor:
    def __init__(self, max_workers: int | None = None) -> None:
        workers = max_workers or os.cpu_count() or 2
        self.capabilities = ExecutorCapabilities(
            name="process", parallel=True, separate_processes=True, max_workers=workers
        )
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable[[P], R], payload: P) -> Future[R]:
        return self._pool.submit(fn, payload)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
