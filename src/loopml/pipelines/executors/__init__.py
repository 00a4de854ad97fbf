"""Executors: in-process, a local process pool, and Ray (local instance or cluster)."""

from __future__ import annotations

from loopml.config.settings import Settings
from loopml.errors import ValidationError
from loopml.pipelines.executors.base import Executor, ExecutorCapabilities
from loopml.pipelines.executors.local import LocalExecutor
from loopml.pipelines.executors.process import ProcessExecutor
from loopml.pipelines.executors.ray import RayExecutor

EXECUTORS = ("local", "process", "ray")


def make_executor(name: str, settings: Settings, max_workers: int | None = None) -> Executor:
    """The executor called `name` ("local", "process" or "ray")."""
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise ValidationError(f"max_workers must be a positive integer, got {max_workers!r}")
    if name == "local":
        return LocalExecutor()
    if name == "process":
        return ProcessExecutor(max_workers)
    if name == "ray":
        return RayExecutor(settings.ray_address, max_workers)
    raise ValidationError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorCapabilities",
    "LocalExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "make_executor",
]
