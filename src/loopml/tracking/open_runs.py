"""Runs not yet ended when the process exits: one registry and one exit hook for every kind
of run (local or remote), so a script that forgets `end()` or dies of an exception still
leaves its runs FINISHED or FAILED with the traceback."""

from __future__ import annotations

import atexit
import sys
import threading
import traceback
from types import TracebackType
from typing import Protocol


class EndableRun(Protocol):
    @property
    def id(self) -> str: ...

    def end(self, status: str = "FINISHED", error: str | None = None) -> None: ...


def exit_outcome(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> tuple[str, str | None]:
    """The status (and error) a run ends with when its `with` block exits this way."""
    if exc_type is None:
        return "FINISHED", None
    if issubclass(exc_type, KeyboardInterrupt):
        return "KILLED", "interrupted (KeyboardInterrupt)"
    return "FAILED", "".join(traceback.format_exception(exc_type, exc, tb))


class OpenRuns:
    """Runs not yet ended, so the exit hook can end them."""

    def __init__(self) -> None:
        self._runs: list[EndableRun] = []
        self._lock = threading.Lock()
        self.uncaught: str | None = None

    def add(self, run: EndableRun) -> None:
        with self._lock:
            self._runs.append(run)

    def discard(self, run: EndableRun) -> None:
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)

    def end_all(self) -> None:
        with self._lock:
            pending = list(reversed(self._runs))
        for run in pending:
            try:
                if self.uncaught is not None:
                    run.end("FAILED", error=self.uncaught)
                else:
                    run.end("FINISHED")
            except Exception as exc:  # the journal keeps the points; the next start recovers
                print(f"loopml: could not end {run.id} at exit: {exc}", file=sys.stderr)


open_runs = OpenRuns()
_previous_hook = sys.excepthook


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    open_runs.uncaught = "".join(traceback.format_exception(exc_type, exc, tb))
    _previous_hook(exc_type, exc, tb)


sys.excepthook = _excepthook
atexit.register(open_runs.end_all)
