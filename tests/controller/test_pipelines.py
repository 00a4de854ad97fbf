"""The controller with real `loopml.pipelines` pipelines: launched through the default
launcher, their run recorded, and a killed run resumed from the step cache."""

from __future__ import annotations

import multiprocessing.context
import os
import signal
import time
from pathlib import Path

import pytest

from loopml.config import load_settings
from loopml.controller import Controller, PipelineRunLauncher
from loopml.governance import verify_chain
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, frame
from tests.controller.helpers import FileRolloutDriver, lines, wait_for

CHILD_LEASE_S = 30.0


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_a_pipeline_runs_with_its_run_recorded(bikes_v1: Client, work: Path) -> None:
    assert isinstance(Controller(bikes_v1).launcher, PipelineRunLauncher)
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:retrain", params={"workdir": str(work)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    [event] = Controller(bikes_v1, rollouts=FileRolloutDriver(work)).reconcile_once().finished
    assert event.state == "succeeded" and event.pipeline_run_id is not None
    assert bikes_v1.get_run(event.pipeline_run_id).status == "FINISHED"
    assert event.outcome is not None
    assert event.outcome["candidate"] == {"version": "model:bikes/3", "passed": True}
    assert lines(work / "prepare.log") == ["dataset:bikes@2"]


def test_a_failed_step_fails_the_event_with_its_run(bikes_v1: Client, work: Path) -> None:
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:failing", params={"workdir": str(work)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    [event] = Controller(bikes_v1, rollouts=FileRolloutDriver(work)).reconcile_once().finished
    assert event.state == "failed" and event.pipeline_run_id is not None
    assert "no rows to train on" in (event.error or "")


def _controller_pass(root: str, folder: str) -> None:
    client = Client(load_settings(Path(root), environ={}))
    Controller(
        client, owner="doomed", rollouts=FileRolloutDriver(folder), lease_s=CHILD_LEASE_S
    ).reconcile_once()


@pytest.mark.slow
def test_killed_mid_pipeline_the_cached_step_is_not_repeated(
    bikes_v1: Client, work: Path, spawn_context: multiprocessing.context.SpawnContext
) -> None:
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:retrain", params={"workdir": str(work)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    (work / "block").write_text("yes")
    child = spawn_context.Process(
        target=_controller_pass, args=(str(bikes_v1.settings.root), str(work))
    )
    child.start()
    try:
        wait_for(work / "waiting")
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)

    (work / "release").write_text("go")
    heir = Controller(bikes_v1, owner="heir", rollouts=FileRolloutDriver(work))
    [event] = heir.reconcile_once(now=time.time() + CHILD_LEASE_S + 1).finished
    assert (event.state, event.attempts) == ("succeeded", 2)
    assert lines(work / "prepare.log") == ["dataset:bikes@2"]  # from the cache the 2nd time
    assert lines(work / "fit.log") == ["dataset:bikes@2"]
    assert verify_chain(bikes_v1.stores.engine).ok
