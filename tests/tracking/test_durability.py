"""Nothing acknowledged is lost: killed processes, exits and concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from loopml.config import init_workspace, load_settings
from loopml.governance import verify_chain
from loopml.sdk import Client
from loopml.tracking.journal import encode_point, encode_points


def _python(code: str, cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def _open(root: Path) -> Client:
    return Client(load_settings(root, environ={}))


def test_kill_9_loses_no_acknowledged_point(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    # A long flush interval: the points are only in the journal when the process dies.
    child = _python(
        """
        import sys, loopml
        client = loopml.connect(".", metric_flush_interval_s=3600, metric_flush_points=10**9)
        run = client.start_run("train", capture_code=False)
        print(run.id, flush=True)
        step = 0
        while True:
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            step += 1
            if step % 1000 == 0:
                print(step, flush=True)  # every point up to here was acknowledged
        """,
        root,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    acknowledged = 0
    while acknowledged < 5000:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child died"
        acknowledged = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()

    client = _open(root)
    assert run_id in client.recovered_runs
    record = client.get_run(run_id)
    assert record.status == "KILLED"
    assert record.error is not None and "recovered" in record.error
    history = client.metric_history(run_id, "loss")
    assert len(history) >= acknowledged
    assert [p.step for p in history] == list(range(len(history)))  # no gap, no duplicate
    client.close()
    # A second open finds nothing left to recover and repeats nothing.
    again = _open(root)
    assert again.recovered_runs == []
    assert len(again.metric_history(run_id, "loss")) == len(history)
    again.close()


def test_kill_9_keeps_every_acknowledged_batch_and_run(tmp_path: Path) -> None:
    """`log_batch` and a run's end are committed when they return: a process killed right
    after loses none of them, and the audit trail (with its checkpoints) stays whole."""
    root = init_workspace(tmp_path)
    child = _python(
        """
        import loopml
        client = loopml.connect(".")
        i = 0
        while True:
            with client.start_run("train", capture_code=False) as run:
                run.log_batch(params={"i": i}, metrics=[("loss", float(i), 0)])
                print("logged", run.id, flush=True)  # acknowledged: the batch is stored
            print("ended", run.id, flush=True)  # acknowledged: the run has ended
            i += 1
        """,
        root,
    )
    assert child.stdout is not None
    logged: list[str] = []
    ended: list[str] = []
    while len(ended) < 200:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child died"
        kind, run_id = line.split()
        (logged if kind == "logged" else ended).append(run_id)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()

    client = _open(root)
    for n, run_id in enumerate(logged):
        record = client.get_run(run_id)
        assert record.params == {"i": str(n)} and record.metrics == {"loss": float(n)}
        assert (record.status == "FINISHED") is (run_id in ended)
    assert verify_chain(client.stores.engine).ok
    client.close()


def test_kill_9_after_partial_flush_repeats_nothing(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    child = _python(
        """
        import loopml
        client = loopml.connect(".", metric_flush_interval_s=3600, metric_flush_points=700)
        run = client.start_run("train", capture_code=False)
        for step in range(2000):
            run.log_metric("loss", float(step), step=step)
        print(run.id, flush=True)
        import time; time.sleep(60)
        """,
        root,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    client = _open(root)
    history = client.metric_history(run_id, "loss")
    assert [p.value for p in history] == [float(s) for s in range(2000)]
    client.close()


def test_open_run_at_interpreter_exit_is_finished_and_flushed(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    child = _python(
        """
        import loopml
        run = loopml.connect(".", metric_flush_interval_s=3600).start_run("train")
        run.log_metric("loss", 0.5)
        print(run.id)
        """,
        root,
    )
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    client = _open(root)
    record = client.get_run(out.strip())
    assert record.status == "FINISHED"
    assert record.metrics == {"loss": 0.5}
    client.close()


def test_uncaught_exception_at_exit_marks_run_failed(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    child = _python(
        """
        import loopml
        run = loopml.connect(".").start_run("train")
        print(run.id, flush=True)
        raise ValueError("bad batch")
        """,
        root,
    )
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 1
    client = _open(root)
    record = client.get_run(out.strip())
    assert record.status == "FAILED"
    assert record.error is not None and "bad batch" in record.error
    client.close()


def test_four_processes_logging_at_once_lose_nothing(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    _open(root).close()  # migrate once up front; concurrency of migrations is tested elsewhere
    code = """
        import sys, loopml
        client = loopml.connect(".", metric_flush_points=250, metric_flush_interval_s=0.05)
        worker = int(sys.argv[1])
        for r in range(3):
            with client.start_run("shared", f"w{worker}-r{r}", params={"worker": worker}) as run:
                for step in range(1500):
                    run.log_metric("loss", worker + step / 10000, step=step)
                    if step % 500 == 0:
                        run.set_tag(f"t{step}", step)
                run.log_text(f"worker {worker} run {r}", "note.txt")
        """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(w)],
            cwd=root,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    deadline = time.time() + 240
    for proc in procs:
        _, err = proc.communicate(timeout=max(1, deadline - time.time()))
        assert proc.returncode == 0, err
    client = _open(root)
    runs = client.search_runs("shared")
    assert len(runs) == 12
    assert all(r.status == "FINISHED" for r in runs)
    for run in runs:
        history = client.metric_history(run.id, "loss")
        assert [p.step for p in history] == list(range(1500)), run.name
        assert len(run.tags) == 3
        assert client.read_artifact(run.id, "note.txt").startswith(b"worker ")
    client.close()


def test_a_batch_of_journal_lines_is_the_lines_one_by_one() -> None:
    points = [("loss", 0.1, 0, 1.5), ("acc", 1 / 3, 1, 1.5), ("loss", 2.0, 2, 1.75)]
    data, sizes = encode_points(points)
    lines = [encode_point(*p) for p in points]
    assert data == b"".join(lines) and sizes == [len(line) for line in lines]
    odd = [("é", 1.0, 0, 1.0), ("a", 2.0, 1, 1.0)]  # a caller's non-ASCII key: sizes in bytes
    data, sizes = encode_points(odd)
    assert sizes == [len(encode_point(*p)) for p in odd] and sum(sizes) == len(data)
