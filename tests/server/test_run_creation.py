"""Remote runs created by their first request: a short run costs one or two requests, a
replayed combined request is applied once, bad or foreign creations are refused, and a
client killed before its run's first request loses nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml import ConflictError, ValidationError
from loopml.sdk import RemoteClient, RemoteOptions
from loopml.store.ids import new_id
from loopml.tracking.open_runs import open_runs
from tests.server.live import LiveServer


class CountingTransport(httpx.HTTPTransport):
    """The real transport, remembering the method and path of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path.removeprefix('/api/v1')}")
        return super().handle_request(request)


def _client(
    server: LiveServer, token: str, tmp_path: Path, **options: Any
) -> tuple[RemoteClient, CountingTransport]:
    transport = CountingTransport()
    settings = RemoteOptions(journal_dir=tmp_path / "journal", **options)
    return RemoteClient(server.url, token, settings, transport=transport), transport


def test_a_short_run_costs_one_request_and_a_logged_batch_two(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path, experiment: str
) -> None:
    client, transport = _client(sqlite_server, role_tokens["editor"], tmp_path, flush_interval_s=30)
    try:
        transport.sent.clear()
        with client.start_run(experiment, params={"lr": 0.1}, capture_code=False) as run:
            run.log_metric("loss", 0.5, step=0)
            run.log_metric("loss", 0.25, step=1)
        assert transport.sent == [f"POST /runs/{run.id}/end"]
        with client.start_run(experiment, capture_code=False) as batched:
            batched.log_batch(params={"p0": "x"}, metrics=[("m0", 1.5, 0)])
        assert transport.sent[1:] == [
            f"POST /runs/{batched.id}/batches",
            f"POST /runs/{batched.id}/end",
        ]
        record = client.get_run(run.id)
        assert (record.status, record.params, record.metrics) == (
            "FINISHED",
            {"lr": "0.1"},
            {"loss": 0.25},
        )
        assert [p.step for p in client.metric_history(run.id, "loss")] == [0, 1]
        other = client.get_run(batched.id)
        assert (other.status, other.params, other.metrics) == ("FINISHED", {"p0": "x"}, {"m0": 1.5})
    finally:
        client.close()


def test_a_pending_run_is_created_within_the_flush_interval(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path, experiment: str
) -> None:
    client, _ = _client(sqlite_server, role_tokens["editor"], tmp_path, flush_interval_s=0.2)
    reader, _ = _client(sqlite_server, role_tokens["viewer"], tmp_path / "reader")
    try:
        with client.start_run(experiment, tags={"stage": "load"}, capture_code=False) as run:
            assert run.pending
            for _ in range(100):  # nothing is logged: the stream's thread creates it
                if not run.pending:
                    break
                time.sleep(0.05)
            assert not run.pending
            seen = reader.get_run(run.id)
            assert (seen.status, seen.tags) == ("RUNNING", {"stage": "load"})
        assert reader.get_run(run.id).status == "FINISHED"
    finally:
        client.close()
        reader.close()


def test_reads_of_the_same_client_see_its_pending_runs(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path, experiment: str
) -> None:
    client, _ = _client(sqlite_server, role_tokens["editor"], tmp_path, flush_interval_s=30)
    try:
        with client.start_run(experiment, capture_code=False) as run:
            assert run.pending
            assert client.get_run(run.id).status == "RUNNING"
            assert [r.id for r in client.search_runs(experiment)] == [run.id]
            with client.start_run(experiment, nested=True, capture_code=False) as child:
                child.set_tag("kind", "child")
            assert client.get_run(child.id).parent_id == run.id
    finally:
        client.close()


def _combined(run_id: str, experiment: str) -> dict[str, Any]:
    return {
        "create": {"experiment": experiment, "params": {"lr": "0.1"}, "tags": {"t": "1"}},
        "status": "FINISHED",
        "stream": {
            "id": "stream-" + run_id[-12:],
            "start": 0,
            "end": 60,
            "points": [["loss", 0.5, 0, 1_700_000_000.0], ["loss", 0.25, 1, 1_700_000_001.0]],
        },
        "stream_id": "stream-" + run_id[-12:],
        "stream_end": 60,
    }


def test_a_replayed_combined_request_is_applied_once(api: dict[str, Any], experiment: str) -> None:
    run_id = new_id("run")
    body = _combined(run_id, experiment)
    first = api["editor"].post(f"/runs/{run_id}/end", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["ended"] is True
    again = api["editor"].post(f"/runs/{run_id}/end", json=body)  # a retry, or a replay
    assert again.status_code == 200, again.text
    assert again.json()["ended"] is False
    history = api["viewer"].get(f"/runs/{run_id}/metric-history", params={"key": "loss"})
    assert [p[0] for p in history.json()["points"]] == [0, 1]
    run = api["viewer"].get(f"/runs/{run_id}").json()
    assert (run["status"], run["params"], run["tags"]) == ("FINISHED", {"lr": "0.1"}, {"t": "1"})
    found = api["viewer"].get("/runs", params={"experiment": experiment}).json()["runs"]
    assert [r["id"] for r in found] == [run_id]


def test_bad_or_foreign_creations_are_refused(api: dict[str, Any], experiment: str) -> None:
    body = _combined(new_id("run"), experiment)
    bad_id = api["editor"].post("/runs/run-notmine/end", json=body)
    assert bad_id.status_code == 422 and "hex digits" in bad_id.json()["detail"]
    bad_name = api["editor"].post(
        f"/runs/{new_id('run')}/batches", json={"create": {"experiment": "no spaces!"}}
    )
    assert bad_name.status_code == 422
    bad_param = api["editor"].post(
        f"/runs/{new_id('run')}/batches",
        json={"create": {"experiment": experiment, "params": {"bad key!": "x"}}},
    )
    assert bad_param.status_code == 422 and "param key" in bad_param.json()["detail"]
    viewer = api["viewer"].post(f"/runs/{new_id('run')}/end", json=body)
    assert viewer.status_code == 403
    run_id = new_id("run")
    taken = api["admin"].post(
        f"/runs/{run_id}/batches", json={"create": {"experiment": experiment}}
    )
    assert taken.status_code == 200, taken.text
    foreign = api["editor"].post(f"/runs/{run_id}/end", json=_combined(run_id, experiment))
    assert foreign.status_code == 409 and "taken" in foreign.json()["detail"]
    elsewhere = api["admin"].post(
        f"/runs/{run_id}/batches", json={"create": {"experiment": experiment + "-other"}}
    )
    assert elsewhere.status_code == 409
    assert api["viewer"].get(f"/runs/{run_id}").json()["status"] == "RUNNING"
    anonymous = httpx.post(
        str(api["viewer"].base_url).rstrip("/") + f"/runs/{new_id('run')}/end", json=body
    )
    assert anonymous.status_code == 401


def test_start_run_still_refuses_bad_arguments_at_once(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path
) -> None:
    client, transport = _client(sqlite_server, role_tokens["editor"], tmp_path)
    try:
        transport.sent.clear()
        with pytest.raises(ValidationError, match="experiment name"):
            client.start_run("no spaces!")
        with pytest.raises(ValidationError, match="param key"):
            client.start_run("fine", params={"bad key!": 1})
        assert transport.sent == []  # refused before anything was sent
        with pytest.raises(Exception, match="no run"):
            client.start_run("fine", parent=new_id("run"), capture_code=False)
    finally:
        client.close()
    viewer, _ = _client(sqlite_server, role_tokens["viewer"], tmp_path / "viewer")
    try:
        with pytest.raises(Exception, match="editor"):
            viewer.start_run("fine", capture_code=False)
    finally:
        viewer.close()


def test_a_client_killed_before_its_runs_first_request_loses_nothing(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path, experiment: str
) -> None:
    client, transport = _client(sqlite_server, role_tokens["editor"], tmp_path, flush_interval_s=60)
    run = client.start_run(experiment, params={"seed": 7}, capture_code=False)
    for step in range(50):
        run.log_metric("loss", step / 2, step=step)
    assert run.pending
    # What a kill -9 leaves: the journal on disk, its lock released, nothing sent.
    open_runs.discard(run)
    run._stream.abandon()
    client.close()
    assert not any("/runs" in sent for sent in transport.sent)

    again, _ = _client(sqlite_server, role_tokens["editor"], tmp_path)
    try:
        assert again.recovered_runs == [run.id]
        record = again.get_run(run.id)
        assert (record.status, record.params) == ("KILLED", {"seed": "7"})
        history = again.metric_history(run.id, "loss")
        assert [p.step for p in history] == list(range(50))
        assert [p.value for p in history] == [s / 2 for s in range(50)]
    finally:
        again.close()
    once_more, _ = _client(sqlite_server, role_tokens["editor"], tmp_path)
    try:
        assert once_more.recovered_runs == []
        assert len(once_more.metric_history(run.id, "loss")) == 50
    finally:
        once_more.close()


def test_a_run_id_of_another_principal_is_not_written_to_by_a_replay(
    sqlite_server: LiveServer, role_tokens: dict[str, str], tmp_path: Path, experiment: str
) -> None:
    client, _ = _client(sqlite_server, role_tokens["editor"], tmp_path, flush_interval_s=60)
    try:
        run = client.start_run(experiment, capture_code=False)
        with httpx.Client(
            base_url=sqlite_server.url + "/api/v1",
            headers={"authorization": f"Bearer {role_tokens['admin']}"},
        ) as admin:  # someone else takes the id first
            taken = admin.post(
                f"/runs/{run.id}/batches", json={"create": {"experiment": experiment}}
            )
            assert taken.status_code == 200
        with pytest.raises(ConflictError, match="taken"):
            run.log_batch(metrics=[("m", 1.0, 0)])
    finally:
        open_runs.discard(run)
        run._stream.abandon()
        client.close()


@pytest.mark.parametrize(
    "point",
    [
        ["bad key!", 1.0, 0, 1_700_000_000.0],
        ["k" * 300, 1.0, 0, 1_700_000_000.0],
        ["loss", "high", 0, 1_700_000_000.0],
        ["loss", 1.0, -1, 1_700_000_000.0],
        ["loss", 1.0, 0, -5.0],
        ["loss", 1.0, 0],
    ],
    ids=["key", "long-key", "value", "step", "timestamp", "short"],
)
def test_a_batch_with_a_bad_point_is_refused_whole(
    api: dict[str, Any], experiment: str, point: list[Any]
) -> None:
    run_id = new_id("run")
    created = api["editor"].post(
        f"/runs/{run_id}/batches", json={"create": {"experiment": experiment}}
    )
    assert created.status_code == 200, created.text
    good = ["loss", 0.5, 0, 1_700_000_000.0]
    segment = {"id": "stream-" + run_id[-12:], "start": 0, "end": 40, "points": [good, point]}
    answer = api["editor"].post(f"/runs/{run_id}/batches", json={"stream": segment})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    history = api["viewer"].get(f"/runs/{run_id}/metric-history", params={"key": "loss"})
    assert history.json()["points"] == []


def test_a_first_batch_and_an_end_sent_twice_are_applied_once(
    api: dict[str, Any], experiment: str
) -> None:
    run_id = new_id("run")
    stream = "stream-" + run_id[-12:]
    batch = {
        "create": {"experiment": experiment, "params": {"lr": "0.1"}},
        "params": {f"p{i}": i for i in range(5)},
        "stream": {
            "id": stream,
            "start": 0,
            "end": 60,
            "points": [[f"m{i}", 0.5, 0, 1_700_000_000.0] for i in range(5)],
        },
    }
    answers = [api["editor"].post(f"/runs/{run_id}/batches", json=batch) for _ in range(2)]
    assert [a.json() for a in answers] == [{"run_id": run_id, "absorbed": 60}] * 2
    end = {"status": "FINISHED", "stream_id": stream, "stream_end": 60}
    ended = [api["editor"].post(f"/runs/{run_id}/end", json=end) for _ in range(2)]
    assert [e.json()["ended"] for e in ended] == [True, False]
    changed = api["editor"].post(
        f"/runs/{run_id}/batches", json={**batch, "params": {"p0": "other"}}
    )
    assert changed.status_code == 409 and "cannot change (p0: '0' → 'other')" in changed.text
    run = api["viewer"].get(f"/runs/{run_id}").json()
    assert run["status"] == "FINISHED" and run["params"]["p0"] == "0"
    assert len(run["params"]) == 6 and len(run["metrics"]) == 5
    events = api["viewer"].get("/audit/events", params={"object": "run:" + run_id[4:]})
    actions = [e["action"] for e in events.json()["events"]]
    assert actions == ["run.create", "run.end"]  # the refused batch wrote no event either
    assert api["viewer"].get("/audit/verify").json()["ok"] is True
