"""Runs whose process was killed with SIGKILL end as KILLED when the workspace is next
opened: with or without metrics, and the step runs of a killed pipeline too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from loopml.tracking.liveness import process_alive

PIPELINE = """
import time
import loopml
from loopml.pipelines import pipeline, step

@step
def prepare() -> int:
    return 1

@step
def train(x: int) -> int:
    print("STEP", flush=True)
    time.sleep(600)
    return x

@pipeline
def slow() -> None:
    train(prepare())

client = loopml.connect({root!r})
slow.run(client)
"""


def _spawn(root: Path, body: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(body)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _run_then_wait(root: Path, metrics: int) -> str:
    return f"""
        import time
        import loopml
        client = loopml.connect({str(root)!r})
        run = client.start_run("exp", capture_code=False)
        for step in range({metrics}):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        print("RUN", run.id, flush=True)
        time.sleep(600)
    """


def _started(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(marker), line
    return line.split()[-1]


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("metrics", [0, 3])
def test_a_run_killed_with_sigkill_ends_as_killed(
    metrics: int, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    make_client(root=root).close()
    proc = _spawn(root, _run_then_wait(root, metrics))
    run_id = _started(proc, "RUN")
    watcher = make_client(root=root)  # opened while the process lives: the run stays
    assert watcher.get_run(run_id).status == "RUNNING"
    assert run_id not in watcher.recovered_runs
    _kill(proc)

    reopened = make_client(root=root)

    assert run_id in reopened.recovered_runs
    record = reopened.get_run(run_id)
    assert record.status == "KILLED"
    assert f"pid {proc.pid}" in (record.error or "")
    end = [e for e in list_events(reopened.stores.engine) if e.action == "run.end"]
    assert [(e.actor, e.details["status"]) for e in end] == [("loopml-recovery", "KILLED")]
    assert end[0].details["metric_points"] == metrics
    assert verify_chain(reopened.stores.engine).ok
    # the next open finds nothing more to do
    assert make_client(root=root).recovered_runs == []


@pytest.mark.slow
def test_the_step_runs_of_a_killed_pipeline_end_as_killed(
    make_client: Callable[..., Client], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    make_client(root=root).close()
    proc = _spawn(root, PIPELINE.format(root=str(root)))
    _started(proc, "STEP")
    _kill(proc)

    reopened = make_client(root=root)

    runs = list(reopened.search_runs())
    assert runs and all(r.status != "RUNNING" for r in runs)
    killed = {r.id for r in runs if r.status == "KILLED"}
    assert len(killed) == 2  # the pipeline's run and the step that was running
    assert killed <= set(reopened.recovered_runs)


def test_liveness_by_pid_and_start_time() -> None:
    now = time.time()
    assert process_alive(os.getpid(), now)
    # a process that started after the run cannot be the run's process: the pid was reused
    assert not process_alive(os.getpid(), now - 24 * 3600)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid, now)
    assert not process_alive(0, now)
