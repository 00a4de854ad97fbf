"""Kill -9 the controller mid-pipeline and mid-rollout; the next one finishes the work
without repeating or losing a step."""

from __future__ import annotations

import multiprocessing.context
import os
import signal
import time
from pathlib import Path

import pytest

from loopml.config import load_settings
from loopml.controller import Controller, FunctionLauncher
from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from tests.controller.conftest import PIPELINES, frame
from tests.controller.helpers import FileRolloutDriver, lines, wait_for
from tests.controller.test_loop import _deployment

CHILD_LEASE_S = 30.0


def _controller_pass(root: str, folder: str, block_rollout: bool) -> None:
    """The doomed controller: one pass in a child process (killed by the test)."""
    client = Client(load_settings(Path(root), environ={}))
    driver = FileRolloutDriver(folder, block_after_start=block_rollout)
    Controller(
        client, owner="doomed", launcher=FunctionLauncher(), rollouts=driver, lease_s=CHILD_LEASE_S
    ).reconcile_once()


def _kill_when(
    ctx: multiprocessing.context.SpawnContext, root: Path, folder: Path, marker: str, block: bool
) -> None:
    child = ctx.Process(target=_controller_pass, args=(str(root), str(folder), block))
    child.start()
    try:
        wait_for(folder / marker)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.slow
def test_killed_mid_pipeline_the_next_controller_resumes_it(
    bikes_v1: Client, tmp_path: Path, spawn_context: multiprocessing.context.SpawnContext
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    bikes_v1.triggers.create(
        "retrain", "dataset:bikes", f"{PIPELINES}:two_stage", params={"workdir": str(work)}
    )
    bikes_v1.log_dataset("bikes", frame(2))
    _kill_when(spawn_context, bikes_v1.settings.root, work, "waiting", block=False)

    [event] = bikes_v1.triggers.events("retrain")
    assert (event.state, event.owner, event.attempts) == ("running", "doomed", 1)
    heir = Controller(
        bikes_v1, owner="heir", launcher=FunctionLauncher(), rollouts=FileRolloutDriver(work)
    )
    assert heir.reconcile_once().idle  # the dead controller's lease has not expired yet
    (work / "release").write_text("go")
    [done] = heir.reconcile_once(now=time.time() + CHILD_LEASE_S + 1).finished
    assert (done.id, done.state, done.attempts) == (event.id, "succeeded", 2)
    assert lines(work / "stage1.log") == [event.id]  # the completed stage was not repeated
    assert lines(work / "stage2.log") == [event.id]
    assert heir.reconcile_once(now=time.time() + CHILD_LEASE_S + 2).idle
    launches = [e for e in list_events(bikes_v1.stores.engine) if e.action == "pipeline.launch"]
    assert [e.details["owner"] for e in launches] == ["doomed", "heir"]
    assert launches[1].details["resumed_from"] == "doomed"
    assert verify_chain(bikes_v1.stores.engine).ok


@pytest.mark.slow
def test_killed_mid_rollout_start_the_rollout_starts_once(
    bikes_v1: Client, tmp_path: Path, spawn_context: multiprocessing.context.SpawnContext
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _deployment(bikes_v1)
    bikes_v1.triggers.create(
        "retrain",
        "dataset:bikes",
        f"{PIPELINES}:record",
        params={"log": str(work / "calls.jsonl"), "model_version": "model:bikes/2"},
        rollout={"deployment": "api", "plan": {"steps": [10, 50, 100]}},
    )
    bikes_v1.log_dataset("bikes", frame(2))
    _kill_when(spawn_context, bikes_v1.settings.root, work, "started", block=True)

    [event] = bikes_v1.triggers.events("retrain")
    assert (event.state, event.rollout_state) == ("succeeded", "starting")
    (work / "release").write_text("go")
    heir = Controller(
        bikes_v1, owner="heir", launcher=FunctionLauncher(), rollouts=FileRolloutDriver(work)
    )
    later = time.time() + CHILD_LEASE_S + 1
    report = heir.reconcile_once(now=later)
    assert [e.rollout_state for e in report.rollouts_started] == ["started"]
    assert [c.state for c in report.rollouts] == ["running"]
    assert [c.state for c in heir.reconcile_once(now=later + 1).rollouts] == ["promoted"]
    assert heir.reconcile_once(now=later + 2).idle
    assert len(lines(work / "starts.log")) == 1  # started once, by the dead controller
    assert len(lines(work / "calls.jsonl")) == 1  # the pipeline was not run again
    actions = [e.action for e in list_events(bikes_v1.stores.engine)]
    assert actions.count("rollout.start") == 1 and actions.count("pipeline.finish") == 1
    assert verify_chain(bikes_v1.stores.engine).ok
