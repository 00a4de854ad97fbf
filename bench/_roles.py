"""CPU of a `loopml serve` process group split by role, and how its workers share connections.

A serving group holds, by command line: the supervisor (`loopml serve --workers N`, which
only restarts workers), the workers (the `loopml serve` process itself with one worker;
`multiprocessing.spawn` children with several), the prediction log's writer processes
(`-m loopml.prediction_log.writer_process`) and helpers (multiprocessing's resource
tracker). A worker's CPU is also split into its event loop (the main thread) and its
other threads (the log's flush thread, the route watcher, the predict executor).
Processes that end during a run are not counted (their ticks vanish with them); a run
where the group's membership changed says so (`changed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

HZ = os.sysconf("SC_CLK_TCK")
ROLES = ("worker_loop", "worker_threads", "log_writer", "supervisor", "other")


@dataclass
class GroupSnapshot:
    """Ticks per (pid, role) and per worker pid, read once from /proc."""

    ticks: dict[str, int] = field(default_factory=dict)
    worker_ticks: dict[int, int] = field(default_factory=dict)
    pids: set[int] = field(default_factory=set)


def _stat_fields(path: str) -> list[str] | None:
    try:
        with open(path) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def role_of(pid: int, pgid: int, cmdline: str, several_workers: bool) -> str:
    if "loopml.prediction_log.writer_process" in cmdline:
        return "log_writer"
    if "resource_tracker" in cmdline:
        return "other"
    if "multiprocessing.spawn" in cmdline or "spawn_main" in cmdline:
        return "worker"
    if pid == pgid:
        return "supervisor" if several_workers else "worker"
    return "other"


def snapshot(pgid: int, several_workers: bool) -> GroupSnapshot:
    """Every live process of group `pgid`, its ticks by role (workers split by thread)."""
    snap = GroupSnapshot()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fields = _stat_fields(f"/proc/{pid}/stat")
        if fields is None or int(fields[2]) != pgid or fields[0] == "Z":
            continue
        snap.pids.add(pid)
        role = role_of(pid, pgid, _cmdline(pid), several_workers)
        total = int(fields[11]) + int(fields[12])
        if role != "worker":
            snap.ticks[role] = snap.ticks.get(role, 0) + total
            continue
        snap.worker_ticks[pid] = total
        main = _stat_fields(f"/proc/{pid}/task/{pid}/stat")
        loop = int(main[11]) + int(main[12]) if main is not None else total
        snap.ticks["worker_loop"] = snap.ticks.get("worker_loop", 0) + loop
        snap.ticks["worker_threads"] = snap.ticks.get("worker_threads", 0) + total - loop
    return snap


def cpu_split(
    before: GroupSnapshot, after: GroupSnapshot, requests: int, loadgen_cpu_s: float
) -> dict[str, Any]:
    """CPU ms per request by role (and the load generator's), plus each worker's share."""
    per_req: dict[str, float] = {}
    n = max(1, requests)
    for role in ROLES:
        seconds = (after.ticks.get(role, 0) - before.ticks.get(role, 0)) / HZ
        per_req[role] = round(1000 * seconds / n, 3)
    per_req["load_generator"] = round(1000 * loadgen_cpu_s / n, 3)
    server = sum(v for k, v in per_req.items() if k != "load_generator")
    per_req["server_total"] = round(server, 3)
    per_req["all_total"] = round(server + per_req["load_generator"], 3)
    worker_cpu = {
        pid: (after.worker_ticks[pid] - before.worker_ticks.get(pid, 0)) / HZ
        for pid in after.worker_ticks
    }
    total = sum(worker_cpu.values()) or 1.0
    return {
        "cpu_ms_per_req": per_req,
        "worker_cpu_share": sorted(round(v / total, 3) for v in worker_cpu.values()),
        "changed": before.pids != after.pids,
    }


def connections_by_worker(pgid: int, port: int) -> list[int]:
    """Established connections to `port` held by each process of group `pgid` (sorted)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state, inode = parts[1], parts[3], parts[9]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            continue
    counts = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(f"/proc/{entry}/stat")
        if fields is None or int(fields[2]) != pgid:
            continue
        held = 0
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                try:
                    target = os.readlink(f"/proc/{entry}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
        except OSError:
            continue
        if held:
            counts.append(held)
    return sorted(counts)


def ratio_bounds(
    one: dict[str, float], several: dict[str, float], cores: int, workers: int
) -> dict[str, Any]:
    """The most `workers` busy workers can reach over one on `cores` cores, from CPU per
    request (`one`: the one-worker split, `several`: the N-worker split).

    One worker is bounded by its event loop (one thread): at most 1000 / `worker_loop` ms
    req/s. N workers are bounded by their N loops (N x 1000 / their `worker_loop` ms) and
    by the cores that they, their helpers and the load generator share (cores x 1000 /
    `all_total` ms). The ratio needs no quiet machine, only CPU per request:

    * `bound`: with the N-worker CPU per request as measured;
    * `bound_at_equal_cpu`: if N workers cost exactly what one costs per request (the
      load generator included): the most any multi-worker server could reach here;
    * `bound_without_load_generator`: as `bound`, with the load generator on other cores;
    * `load_generator_share`: the load generator's part of all CPU per request (one
      worker), which the cores lend to it instead of to the workers.
    """
    loop_1, total_1 = one.get("worker_loop") or 0.0, one.get("all_total") or 0.0
    loop_n, total_n = several.get("worker_loop") or 0.0, several.get("all_total") or 0.0
    server_n = several.get("server_total") or 0.0
    return {
        "bound": ratio_bound(loop_1, loop_n, total_n, cores, workers),
        "bound_at_equal_cpu": ratio_bound(loop_1, loop_1, total_1, cores, workers),
        "bound_without_load_generator": ratio_bound(loop_1, loop_n, server_n, cores, workers),
        "load_generator_share": round(one.get("load_generator", 0.0) / total_1, 3)
        if total_1 > 0
        else None,
        "cpu_ms_per_req_1_worker": {k: one.get(k) for k in ("worker_loop", "all_total")},
        "cpu_ms_per_req_n_workers": {
            k: several.get(k) for k in ("worker_loop", "server_total", "all_total")
        },
    }


def ratio_bound(
    loop_1: float, loop_n: float, total_n: float, cores: int, workers: int
) -> float | None:
    """min(N loops, the cores) over one loop, in req/s ratios (CPU ms per request in); never
    above N (a higher figure is a busier machine during the one-worker runs)."""
    if min(loop_1, loop_n, total_n) <= 0:
        return None
    return round(min(workers, workers * loop_1 / loop_n, cores * loop_1 / total_n), 2)
