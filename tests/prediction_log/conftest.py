"""Prediction logs over a client's stores, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from loopml.prediction_log import PredictionLog
from loopml.sdk import Client
from loopml.store import Stores


@pytest.fixture
def make_log() -> Iterator[Callable[..., PredictionLog]]:
    made: list[PredictionLog] = []

    def factory(stores: Stores, **options: Any) -> PredictionLog:
        log = PredictionLog(stores, **options)
        made.append(log)
        return log

    yield factory
    for log in made:
        log.close()


@pytest.fixture
def plog(client: Client, make_log: Callable[..., PredictionLog]) -> PredictionLog:
    return make_log(client.stores)


@pytest.fixture
def any_plog(any_client: Client, make_log: Callable[..., PredictionLog]) -> PredictionLog:
    return make_log(any_client.stores)
