"""The remote client's shipping thread: rounds per stream, on time or on request, one
thread for every open stream of a client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from loopml.sdk.remote.shipper import Shipper


class _Stream:
    """Counts its rounds; refuses (returns False) after `refuse_after` of them."""

    def __init__(self, interval_s: float, refuse_after: int | None = None) -> None:
        self.flush_interval_s = interval_s
        self.refuse_after = refuse_after
        self.rounds: list[float] = []
        self.threads: set[str] = set()
        self.shipped = threading.Event()

    def ship_round(self) -> bool:
        self.rounds.append(time.monotonic())
        self.threads.add(threading.current_thread().name)
        self.shipped.set()
        return self.refuse_after is None or len(self.rounds) < self.refuse_after


def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_each_stream_is_shipped_every_interval_by_one_thread() -> None:
    shipper = Shipper()
    fast, slow = _Stream(0.05), _Stream(0.3)
    started = time.monotonic()
    shipper.add(fast)
    shipper.add(slow)
    shipper.add(fast)  # adding twice changes nothing
    _wait_for(lambda: len(slow.rounds) >= 2)
    assert len(fast.rounds) >= 8
    assert slow.rounds[0] - started >= 0.29  # not before its interval
    assert fast.threads == slow.threads == {"loopml-ship"}
    assert shipper.streams == 2
    shipper.remove(fast)
    count = len(fast.rounds)
    time.sleep(0.2)
    assert len(fast.rounds) <= count + 1  # at most the round that was under way
    shipper.close()


def test_wake_ships_now_and_a_refusing_stream_is_dropped() -> None:
    shipper = Shipper()
    stream = _Stream(60.0, refuse_after=2)
    shipper.add(stream)
    time.sleep(0.05)
    assert stream.rounds == []  # its first round is a minute away
    shipper.wake(stream)
    assert stream.shipped.wait(5)
    stream.shipped.clear()
    shipper.wake(stream)
    assert stream.shipped.wait(5)
    _wait_for(lambda: shipper.streams == 0)  # the second round refused: no more rounds
    shipper.wake(stream)  # a removed stream is not shipped again
    time.sleep(0.05)
    assert len(stream.rounds) == 2
    shipper.close()


def test_a_stream_added_after_an_idle_spell_is_shipped_on_time() -> None:
    shipper = Shipper()
    first = _Stream(0.05)
    shipper.add(first)
    _wait_for(lambda: len(first.rounds) >= 1)
    shipper.remove(first)
    time.sleep(0.2)  # the thread now waits without streams
    later = _Stream(0.05)
    added = time.monotonic()
    shipper.add(later)
    _wait_for(lambda: len(later.rounds) >= 1)
    assert later.rounds[0] - added < 1.0


def test_a_closed_shipper_ships_nothing() -> None:
    shipper = Shipper()
    stream = _Stream(0.01)
    shipper.close()
    shipper.add(stream)
    time.sleep(0.1)
    assert stream.rounds == [] and shipper.streams == 0


def test_a_forked_child_ships_its_own_streams() -> None:
    shipper = Shipper()
    shipper.add(_Stream(60.0))  # the parent's thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a stream of its own must be shipped by a thread of its own
        try:
            stream = _Stream(0.02)
            shipper.add(stream)
            ok = stream.shipped.wait(5) and shipper.streams == 1
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)
    shipper.close()
