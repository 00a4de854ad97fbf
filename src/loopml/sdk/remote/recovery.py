"""Replay the metric journals of remote clients that died (kill -9, a crash, a reboot).

A journal whose writer is gone can be locked; each one written for this client's server
is read from the offset the server says it holds (its run created first if the client
died before sending it), the rest is shipped (the server writes
each byte range once, so a batch that had reached it before the crash is not counted
again), and its run, if still RUNNING, ends KILLED. Journals of other servers are left
for their own clients.
"""

from __future__ import annotations

import logging
from pathlib import Path

from loopml.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from loopml.sdk.remote.http import RemoteHttp
from loopml.sdk.remote.stream import CHUNK_POINTS, orphaned_streams, read_header, read_records
from loopml.tracking.streams import StreamGapError

log = logging.getLogger("loopml.remote")
UNKNOWN_SUFFIX = ".unknown-run"


def replay_orphans(http: RemoteHttp, folder: Path) -> list[str]:
    """Ship what dead clients of `http`'s server journaled; returns the runs recovered."""
    recovered = []
    for path in orphaned_streams(folder):
        parsed = read_header(path)
        if parsed is None:
            continue
        header, base = parsed
        if header.server != http.url:
            continue
        try:
            if header.create is not None:  # the client died before its run's first request
                http.call(
                    "POST",
                    f"/runs/{header.run_id}/batches",
                    json={"create": header.create},
                    idempotent=True,
                )
            count = _replay(http, path, base, header.run_id, header.stream)
        except (NotFoundError, PermissionDeniedError, ConflictError, ValidationError) as exc:
            # The run is gone, or this token may not write to it: keep the file for a
            # person to look at, under a name no client replays again.
            path.rename(path.with_name(path.name + UNKNOWN_SUFFIX))
            log.warning("cannot replay %s into %s: %s", path, header.run_id, exc)
            continue
        http.call(
            "POST",
            f"/runs/{header.run_id}/end",
            json={
                "status": "KILLED",
                "error": (
                    f"the client (pid {header.pid}) ended without closing the run; {count} "
                    "metric points were recovered from its journal"
                ),
            },
            idempotent=True,
        )
        path.unlink(missing_ok=True)
        recovered.append(header.run_id)
    return recovered


def _replay(http: RemoteHttp, path: Path, base: int, run_id: str, stream: str) -> int:
    """Ship the records the server lacks; returns how many points that was."""
    start = int(http.call("GET", f"/runs/{run_id}/streams/{stream}")["absorbed"])
    records = read_records(path, base, start)
    count = len(records)
    while records:
        chunk = records[:CHUNK_POINTS]
        body = {
            "stream": {
                "id": stream,
                "start": start,
                "end": chunk[-1][1],
                "points": [point for point, _ in chunk],
            }
        }
        try:
            http.call("POST", f"/runs/{run_id}/batches", json=body, idempotent=True)
        except StreamGapError as gap:  # a batch of the dead client landed meanwhile
            start = gap.absorbed
            records = read_records(path, base, start)
            continue
        start = chunk[-1][1]
        records = records[len(chunk) :]
    return count
