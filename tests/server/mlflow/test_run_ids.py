"""The MLflow write routes send a run id to the tracking service without looking it up
first (runs.on_run): they rely on every store refusing a write to a run that does not
exist with NotFoundError, never writing it and never failing with a database error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loopml.errors import NotFoundError
from loopml.sdk import Client
from loopml.tracking.service import TrackingService

MISSING = "run-0123456789abcdef01234567"
WRITES: dict[str, Callable[[TrackingService], None]] = {
    "batch of everything": lambda t: t.log_batch(
        MISSING, [("loss", 1.0, 0, 1.0)], {"p": "1"}, {"t": "x"}
    ),
    "batch of metrics": lambda t: t.log_batch(MISSING, [("loss", 1.0, 0, 1.0)], {}, {}),
    "batch of tags": lambda t: t.log_batch(MISSING, [], {}, {"t": "x"}),
    "params": lambda t: t.log_params(MISSING, {"p": "1"}),
    "tags": lambda t: t.set_tags(MISSING, {"t": "x"}),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
def test_a_write_to_a_missing_run_is_not_found_on_every_backend(
    any_client: Client, write: Callable[[TrackingService], None]
) -> None:
    with pytest.raises(NotFoundError, match=f"no run {MISSING}"):
        write(any_client.tracking)
    with pytest.raises(NotFoundError):
        any_client.tracking.metric_history(MISSING, "loss")
