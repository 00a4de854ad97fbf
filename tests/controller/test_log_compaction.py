"""The controller compacts the prediction logs now and then, without counting it as work."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.sdk import Client
from tests.controller.conftest import MakeController

T0 = 1_700_000_000.0


def _log_small_segments(client: Client, flushes: int = 6, first: int = 0) -> None:
    log = PredictionLog(client.stores, flush_rows=10**9)
    for i in range(first, first + flushes * 5):
        log.record(
            PredictionRecord("api", f"r{i}", "model:m/1", [{"x": i}], [1.0], None, 1.0, at=T0 + i)
        )
        if i % 5 == 4:
            log.flush()
    log.close()


def test_a_pass_compacts_the_logs_once_per_interval(
    client: Client, controller: MakeController
) -> None:
    _log_small_segments(client)
    loop = controller(compact_logs_every_s=600)
    first = loop.reconcile_once()
    assert first.compacted == 6 and first.idle  # maintenance, not loop work
    assert "prediction logs: 6 small segments compacted" in first.lines()
    assert PredictionLog(client.stores).predictions("api")["request_id"].tolist() == [
        f"r{i}" for i in range(30)
    ]
    _log_small_segments(client, 2, first=100)  # the same hour again: two more small segments
    assert loop.reconcile_once(now=first.at + 60).compacted == 0  # not due yet
    assert loop.reconcile_once(now=first.at + 601).compacted == 3  # merged with the first


def test_compaction_can_be_turned_off_and_its_interval_is_checked(
    client: Client, controller: MakeController
) -> None:
    _log_small_segments(client)
    assert controller(compact_logs_every_s=None).reconcile_once().compacted == 0
    for bad in (0, -5, True, "10m"):
        with pytest.raises(ValidationError, match="compact_logs_every_s"):
            controller(compact_logs_every_s=bad)
