"""One local Ray instance for the whole session, and workers that import the test helpers."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable

ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawned workers unpickle steps by module name: put the repo root on their path."""
    monkeypatch.syspath_prepend(ROOT)


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[Any]:
    """A local Ray instance (2 CPUs, no dashboard), started once and shut down at the end."""
    try:
        import ray
    except ImportError:
        unavailable("ray is not installed (pip install -e '.[dev]' installs it)")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = ROOT + (os.pathsep + previous if previous else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
    yield ray
    ray.shutdown()
