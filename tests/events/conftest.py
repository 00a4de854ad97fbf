"""Receivers for the webhook tests, stopped at the end of each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.events.receivers import Behaviour, Receiver


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(start: bool = True, **behaviour: object) -> Receiver:
        found = Receiver(Behaviour(**behaviour))  # type: ignore[arg-type]
        made.append(found)
        return found.start() if start else found

    yield make
    for found in made:
        found.stop()
