"""The prediction log's writer process: `python -m loopml.prediction_log.writer_process`.

Reads the store settings (one JSON line) from stdin, then one job per line — a journal
file, its id, a byte range, the source — writes those records as segments and answers
`{"records": n}` or `{"error": "..."}` on stdout. It ends when stdin closes: its server
closed the log, or died. SIGTERM and SIGINT are ignored: a signal sent to the server's
whole process group must leave the writer alive for the server's last flush.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import orjson

from loopml.config.settings import Settings
from loopml.prediction_log.writer import write_range
from loopml.store import open_stores

log = logging.getLogger("loopml.prediction_log.writer")


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    first = sys.stdin.buffer.readline()
    if not first:
        return
    stores = open_stores(Settings.model_validate_json(first))
    out = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            try:
                job = orjson.loads(line)
                records = write_range(
                    stores,
                    Path(job["path"]),
                    str(job["journal_id"]),
                    int(job["start"]),
                    int(job["end"]),
                    str(job["source"]),
                )
                answer: dict[str, object] = {"records": records}
            except Exception as exc:  # the server retries the range; say why it failed
                log.exception("writing prediction log segments failed")
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(orjson.dumps(answer) + b"\n")
            out.flush()
    finally:
        stores.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main()
