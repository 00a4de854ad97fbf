"""Helpers shared by loopml's benchmark scripts: timing phases, machine noise, summaries.

The noise figures follow the peer scripts in shared/bench/peers (mlflow_tracking.py,
dvc_hash.py) so that the JSON of both sides can be read with the same eyes:
`machine_busy_pct` is the whole machine's CPU busy % over a phase (from /proc/stat) and
`others_busy_pct` is the part of it that this benchmark's own CPU time does not explain.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

MIB = 1 << 20


def make_logger(tag: str) -> Any:
    """A progress printer to stderr (stdout carries only the final JSON line)."""

    def log(*parts: object) -> None:
        print(f"[{tag}]", *parts, file=sys.stderr, flush=True)

    return log


def cpu_snap() -> tuple[int, int]:
    """(total jiffies, idle jiffies) of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def busy_pct(start: tuple[int, int], end: tuple[int, int]) -> float | None:
    total, idle = end[0] - start[0], end[1] - start[1]
    return round(100.0 * (total - idle) / total, 1) if total > 0 else None


def others_pct(busy: float | None, own_cpu_s: float, wall_s: float) -> float | None:
    """Machine busy % not explained by this benchmark's own CPU time."""
    if busy is None or wall_s <= 0:
        return None
    ncpu = os.cpu_count() or 1
    return round(max(0.0, busy - 100.0 * own_cpu_s / (wall_s * ncpu)), 1)


class Phase:
    """Times a block: wall seconds, this process's CPU seconds (all threads), machine busy %.

    Usable as a context manager, or with `start()` / `stop()` when the timed span crosses
    a `with` statement of its own (a run that must have ended before the clock stops).
    """

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.busy: float | None = None
        self._t0 = 0.0
        self._p0 = 0.0
        self._c0 = (0, 0)

    def start(self) -> Phase:
        self._c0 = cpu_snap()
        self._p0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> Phase:
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._p0
        self.busy = busy_pct(self._c0, cpu_snap())
        return self

    @property
    def t0(self) -> float:
        return self._t0

    def __enter__(self) -> Phase:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall, 4),
            "client_cpu_s": round(self.cpu, 3),
            "machine_busy_pct": self.busy,
            "others_busy_pct": others_pct(self.busy, self.cpu, self.wall),
        }


def agg(values: Iterable[float | None], digits: int = 4) -> dict[str, Any] | None:
    """median / min / max / n, the summary shape the peer scripts print."""
    xs = [x for x in values if x is not None]
    if not xs:
        return None
    return {
        "median": round(statistics.median(xs), digits),
        "min": round(min(xs), digits),
        "max": round(max(xs), digits),
        "n": len(xs),
    }


class Noise:
    """Load average and machine busy % over a whole invocation."""

    def __init__(self) -> None:
        self.load0 = os.getloadavg()
        self.c0 = cpu_snap()
        self.t0 = time.perf_counter()

    def result(self) -> dict[str, Any]:
        return {
            "loadavg_start": [round(x, 2) for x in self.load0],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "machine_busy_pct_whole_run": busy_pct(self.c0, cpu_snap()),
            "ncpu": os.cpu_count(),
        }

    def total_wall_s(self) -> float:
        return round(time.perf_counter() - self.t0, 1)


def proc_status_kib(field: str) -> int | None:
    """A `VmXXX:` field of /proc/self/status in KiB (VmHWM = this process's peak RSS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
