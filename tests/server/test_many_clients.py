"""Many clients, several server processes: eight processes logging at once through one
server on SQLite lose nothing and meet no "database is locked"; two replicas on one
PostgreSQL (and one bucket) serve the same data, a run's stream crossing between them."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import httpx
import pytest
from sqlalchemy import create_engine, text

from loopml.config import init_workspace
from loopml.sdk import RemoteClient, RemoteOptions
from tests.server.conftest import start_server
from tests.server.live import LiveServer, cli_environment, free_port, make_principal

WRITER = """
import json, sys
from pathlib import Path
from loopml.sdk import RemoteClient, RemoteOptions

url, token, journal, experiment, worker = sys.argv[1:6]
options = RemoteOptions(journal_dir=Path(journal), flush_interval_s=0.05, flush_points=500)
client = RemoteClient(url, token, options)
made = []
for r in range(4):
    with client.start_run(experiment, f"w{worker}-r{r}", params={"worker": worker}) as run:
        for step in range(1500):
            run.log_metric("loss", step / 1500, step=step)
        run.log_batch(metrics=[("acc", i / 100, i) for i in range(100)], tags={"r": str(r)})
    made.append(run.id)
client.close()
print(json.dumps(made))
"""


@pytest.mark.slow
def test_eight_processes_log_through_one_sqlite_server_and_lose_nothing(
    tmp_path: Path, experiment: str
) -> None:
    server = start_server(tmp_path / "ws", None, "--workers", "2")
    try:
        token = make_principal(server, server.admin_token(), "fleet", "editor")
        script = tmp_path / "writer.py"
        script.write_text(WRITER)
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    server.url,
                    token,
                    str(tmp_path / f"journal-{i}"),
                    experiment,
                    str(i),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=cli_environment(),
            )
            for i in range(8)
        ]
        made: list[str] = []
        for child in children:
            out, err = child.communicate(timeout=600)
            assert child.returncode == 0, err.decode()[-3000:]
            made += json.loads(out.decode().strip().splitlines()[-1])
        options = RemoteOptions(journal_dir=tmp_path / "reader")
        client = RemoteClient(server.url, token, options)
        try:
            runs = client.search_runs(experiment, max_results=100)
            assert sorted(r.id for r in runs) == sorted(made) and len(made) == 32
            for run in runs:
                assert run.status == "FINISHED"
                steps = [p.step for p in client.metric_history(run.id, "loss")]
                assert steps == list(range(1500)), run.name
                assert len(client.metric_history(run.id, "acc")) == 100
                assert run.params == {"worker": run.name.split("-")[0][1:]}
        finally:
            client.close()
    finally:
        server.stop()
    log = server.stderr()
    assert "database is locked" not in log and "Traceback" not in log


@pytest.fixture
def shared_store(pg_server: str, s3_server: str) -> Iterator[dict[str, str]]:
    """One PostgreSQL schema and one bucket, for several servers."""
    schema = "rep_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    bucket = "rep" + uuid.uuid4().hex[:12]
    fs = fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )
    fs.mkdir(bucket)
    yield {
        "LOOPML_STORE_URL": f"{pg_server}?options=-csearch_path%3D{schema}",
        "LOOPML_ARTIFACTS_URL": f"s3://{bucket}/loopml",
        "LOOPML_S3_ENDPOINT_URL": s3_server,
        "LOOPML_AUDIT_KEY": secrets.token_hex(32),  # one trail, one key for every replica
    }
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
def test_two_replicas_on_one_postgres_serve_the_same_data(
    tmp_path: Path, shared_store: dict[str, str], experiment: str
) -> None:
    first = start_server(tmp_path / "a", shared_store)
    second = LiveServer(
        init_workspace(tmp_path / "b"),
        free_port(),
        cli_environment(shared_store),
        ["--no-controller"],
    ).start()
    try:
        admin = first.admin_token()
        assert "lml_" not in second.stdout(), "the second replica found the admin: no token"
        token = make_principal(second, admin, "twin", "editor")
        options = RemoteOptions(journal_dir=tmp_path / "journal", flush_interval_s=0.05)
        on_first = RemoteClient(first.url, token, options)
        on_second = RemoteClient(second.url, token, options)
        try:
            run = on_first.start_run(experiment, params={"lr": 0.1})
            for step in range(3000):
                run.log_metric("loss", float(step), step=step)
            run.flush()
            # the rest of the stream goes through the other replica, then the run ends there
            run._stream.http = on_second.http
            run._http = on_second.http
            for step in range(3000, 6000):
                run.log_metric("loss", float(step), step=step)
            run.log_text("trained on both replicas", "notes.txt")
            run.end()
            record = on_first.get_run(run.id)
            assert record.status == "FINISHED" and record.params == {"lr": "0.1"}
            steps = [p.step for p in on_first.metric_history(run.id, "loss")]
            assert steps == list(range(6000))
            assert on_first.read_artifact(run.id, "notes.txt") == b"trained on both replicas"
            assert [r.id for r in on_second.search_runs(experiment)] == [run.id]
        finally:
            on_first.close()
            on_second.close()
    finally:
        first.stop()
        second.stop()


def _lease_owners(server: LiveServer, token: str) -> list[str]:
    events = httpx.get(
        f"{server.url}/api/v1/audit/events",
        params={"object": "controller:controller", "limit": 100},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["events"]
    return [e["details"]["owner"] for e in events if e["action"] == "controller.lease"]


def _wait_for_owner(server: LiveServer, token: str, pid: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        owners = _lease_owners(server, token)
        if owners and f":{pid}:" in owners[-1]:
            return owners
        assert time.monotonic() < deadline, f"pid {pid} never took the lease: {owners}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.s3
def test_one_replica_drives_and_another_takes_over_when_it_dies(
    tmp_path: Path, shared_store: dict[str, str]
) -> None:
    args = ["--controller-interval", "0.2", "--controller-lease", "2"]
    first = LiveServer(
        init_workspace(tmp_path / "a"), free_port(), cli_environment(shared_store), args
    ).start()
    second = LiveServer(
        init_workspace(tmp_path / "b"), free_port(), cli_environment(shared_store), args
    )
    try:
        admin = first.admin_token()
        assert first.process is not None
        _wait_for_owner(first, admin, first.process.pid)
        second.start()
        time.sleep(3)  # longer than the lease: the first replica keeps renewing it
        owners = _lease_owners(second, admin)
        assert len(owners) == 1 and f":{first.process.pid}:" in owners[0]
        first.kill()  # SIGKILL: no release, the lease must expire
        killed_at = time.monotonic()
        assert second.process is not None
        owners = _wait_for_owner(second, admin, second.process.pid)
        assert time.monotonic() - killed_at < 30
        assert len(owners) == 2
    finally:
        first.stop()
        second.stop()
    assert "holds the driver lease" in second.stderr()
