"""How long `PredictionLog.record()` takes (a measurement, not a test; prints JSON).

Run: .venv/bin/python bench/prediction_log.py
"""

from __future__ import annotations

import json
import tempfile
import timeit
from functools import partial
from pathlib import Path

from loopml.config import init_workspace, load_settings
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.store import open_stores


def main() -> None:
    root = init_workspace(Path(tempfile.mkdtemp()))
    stores = open_stores(load_settings(root, environ={}))
    result: dict[str, float] = {}
    for background in (False, True):
        # Without the flusher: the bare cost. With it: what a request sees while segments
        # are being written (the flusher competes for the GIL).
        log = PredictionLog(
            stores, flush_interval_s=0.5, flush_rows=20_000 if background else 10**9
        )
        if background:
            log.start()
        result.update(_measure(log, "_flushing" if background else ""))
        log.close()
    stores.close()
    print(json.dumps(result))


def _measure(log: PredictionLog, suffix: str) -> dict[str, float]:
    one = PredictionRecord(
        "bikes",
        "3f9c2a1b-0000",
        "model:bikes/3",
        [{"temp": 12.5, "hour": 8, "weekday": "mon", "holiday": False, "humidity": 0.61}],
        [231.0],
        None,
        1.7,
    )
    many = PredictionRecord(
        "bikes",
        "3f9c2a1b-0001",
        "model:bikes/3",
        [dict(one.inputs[0], hour=h) for h in range(24)],
        [float(h) for h in range(24)],
        [[0.2, 0.8]] * 24,
        4.1,
    )
    result: dict[str, float] = {}
    for name, rec, n in (("record_1_row_us", one, 50_000), ("record_24_rows_us", many, 10_000)):
        best = min(timeit.repeat(partial(log.record, rec), number=n, repeat=5))
        result[name + suffix] = round(best / n * 1e6, 2)
    feedback = min(
        timeit.repeat(lambda: log.record_feedback("bikes", "3f9c2a1b-0000", 1), number=50_000)
    )
    result["record_feedback_us" + suffix] = round(feedback / 50_000 * 1e6, 2)
    return result


if __name__ == "__main__":
    main()
