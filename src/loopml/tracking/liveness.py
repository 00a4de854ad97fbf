"""Is the process that started a run still alive? Host, pid and process start time.

A run records the host and pid of the process that created it. On that host, the run's
process is gone when the pid no longer exists, is a zombie, or now belongs to a process
that started after the run (the pid was reused). Runs of other hosts cannot be judged
from here and are left alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: A process start time read from /proc is exact to a clock tick, but the boot time it is
#: counted from only to the second.
START_TIME_SLACK_S = 1.5


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


_BOOT_TIME = _boot_time() if sys.platform.startswith("linux") else None


def _proc_status(pid: int) -> tuple[str, float] | None:
    """(state letter, start time in epoch seconds) from /proc, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    ticks = int(fields[19])  # field 22 of proc(5), counted from field 3
    assert _BOOT_TIME is not None
    return fields[0], _BOOT_TIME + ticks / os.sysconf("SC_CLK_TCK")


def process_alive(pid: int, started_by: float) -> bool:
    """True if process `pid` exists and may be the one that was running at `started_by`."""
    if pid <= 0:
        return False
    if _BOOT_TIME is not None:
        status = _proc_status(pid)
        if status is None:
            return False
        state, started = status
        return state not in ("Z", "X") and started <= started_by + START_TIME_SLACK_S
    try:
        os.kill(pid, 0)  # elsewhere: existence only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
