"""Nothing a remote `log_metric` acknowledged is lost or written twice: not when the client
is killed with SIGKILL mid-logging, not when the server is killed and restarted."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from loopml.sdk import RemoteClient, RemoteOptions
from loopml.sdk.remote.http import ServerUnavailableError
from tests.server.conftest import start_server
from tests.server.live import LiveServer, cli_environment, make_principal

CHILD = """
import sys
from pathlib import Path
from loopml.sdk import RemoteClient, RemoteOptions

url, token, journal, experiment = sys.argv[1:5]
options = RemoteOptions(journal_dir=Path(journal), flush_interval_s=0.2, flush_points=2000)
client = RemoteClient(url, token, options)
run = client.start_run(experiment)
print("run", run.id, flush=True)
step = 0
while True:
    run.log_metric("loss", step * 0.5, step=step)
    step += 1
    if step % 500 == 0:
        print("acked", step, flush=True)  # every step below this one has returned
"""


def _steps(client: RemoteClient, run_id: str) -> list[int]:
    return [p.step for p in client.metric_history(run_id, "loss")]


@pytest.mark.slow
def test_a_killed_client_loses_no_acknowledged_point_and_repeats_none(
    tmp_path: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
) -> None:
    journal = tmp_path / "journal"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [
            sys.executable,
            str(script),
            sqlite_server.url,
            role_tokens["editor"],
            str(journal),
            experiment,
        ],
        stdout=subprocess.PIPE,
        env=cli_environment(),
        text=True,
    )
    assert child.stdout is not None
    run_id, acked = "", 0
    deadline = time.monotonic() + 120
    for line in child.stdout:
        kind, value = line.split()
        if kind == "run":
            run_id = value
        else:
            acked = int(value)
        if acked >= 30_000:  # several batches shipped, more waiting in the journal
            break
        assert time.monotonic() < deadline, "the child logs too slowly"
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    left = list(journal.glob("*.stream"))
    assert len(left) == 1, "the killed client's journal is on disk"

    options = RemoteOptions(journal_dir=journal, flush_interval_s=0.2)
    with httpx.Client(timeout=30) as http:  # what the server held before the replay
        before = http.get(
            f"{sqlite_server.url}/api/v1/runs/{run_id}/metric-history",
            params={"key": "loss"},
            headers={"authorization": f"Bearer {role_tokens['viewer']}"},
        ).json()["points"]
    client = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    try:
        assert client.recovered_runs == [run_id]
        steps = _steps(client, run_id)
        assert len(steps) >= acked, "an acknowledged point is missing"
        assert steps == list(range(len(steps))), "a point is missing or was written twice"
        assert len(steps) >= len(before)
        values = [p.value for p in client.metric_history(run_id, "loss")]
        assert values == [s * 0.5 for s in steps]
        record = client.get_run(run_id)
        assert record.status == "KILLED"
        assert record.error is not None and "recovered from its journal" in record.error
        assert not list(journal.glob("*.stream")), "the replayed journal is removed"
    finally:
        client.close()
    again = RemoteClient(sqlite_server.url, role_tokens["editor"], options)
    assert again.recovered_runs == []  # replayed once only
    assert _steps(again, run_id) == steps
    again.close()


@pytest.mark.slow
def test_a_server_killed_and_restarted_mid_logging_loses_nothing(
    tmp_path: Path, experiment: str
) -> None:
    server = start_server(tmp_path / "ws")
    token = make_principal(server, server.admin_token(), "trainer", "editor")
    options = RemoteOptions(
        journal_dir=tmp_path / "journal", flush_interval_s=0.1, flush_points=1000, retry_s=180
    )
    client = RemoteClient(server.url, token, options)
    restarted = threading.Thread(target=server.start)
    try:
        run = client.start_run(experiment, params={"phase": "before"})
        for step in range(10_000):
            run.log_metric("loss", float(step), step=step)
        run.flush()
        server.kill()  # SIGKILL: requests in flight die with it
        began = time.monotonic()
        for step in range(10_000, 20_000):  # the server is down: calls still return at once
            run.log_metric("loss", float(step), step=step)
        assert time.monotonic() - began < 5.0, "log_metric waited for the network"
        restarted.start()
        run.set_tag("during", "the restart")  # waits for the server, then succeeds
        for step in range(20_000, 30_000):
            run.log_metric("loss", float(step), step=step)
        run.end()
        restarted.join(180)
        record = client.get_run(run.id)
        assert record.status == "FINISHED"
        assert record.tags == {"during": "the restart"}
        assert record.params == {"phase": "before"}
        assert _steps(client, run.id) == list(range(30_000))
        assert record.metrics == {"loss": 29_999.0}
        assert not list((tmp_path / "journal").glob("*.stream"))
    finally:
        client.close()
        if restarted.ident is not None:
            restarted.join(180)
        server.stop()


def test_an_unreachable_server_is_reported_after_the_retry_time(tmp_path: Path) -> None:
    options = RemoteOptions(journal_dir=tmp_path / "journal", retry_s=0.5)
    began = time.monotonic()
    with pytest.raises(ServerUnavailableError, match=r"unreachable for 0\.5 s"):
        RemoteClient("http://127.0.0.1:9", "lml_" + "x" * 43, options)
    assert time.monotonic() - began < 10
