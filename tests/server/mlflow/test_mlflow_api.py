"""The MLflow REST subset over HTTP, as the stock client sends it: answers in MLflow's
shapes, refusals with MLflow's error codes (which the client switches on) and loopml's
reasons, artifacts streamed and content-addressed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from loopml.sdk import RemoteClient
from tests.server.live import LiveServer
from tests.server.mlflow.conftest import refusal

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def http(sqlite_server: LiveServer, role_tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {role_tokens['editor']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=headers, timeout=60) as client:
        yield client


def _run(http: httpx.Client, experiment: str) -> tuple[str, str]:
    created = http.post(f"{API}/experiments/create", json={"name": experiment})
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    run = http.post(
        f"{API}/runs/create",
        json={"experiment_id": experiment_id, "run_name": "r1", "start_time": 1, "tags": []},
    ).json()["run"]
    assert (
        run["info"]["artifact_uri"]
        == f"mlflow-artifacts:/{experiment_id}/{run['info']['run_id']}/artifacts"
    )
    return experiment_id, run["info"]["run_id"]


def test_experiments_in_mlflow_shapes_and_codes(http: httpx.Client, experiment: str) -> None:
    missing = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": experiment})
    assert "no experiment named" in refusal(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    experiment_id, _ = _run(http, experiment)
    again = http.post(f"{API}/experiments/create", json={"name": experiment})
    assert "already exists" in refusal(again, 400, "RESOURCE_ALREADY_EXISTS")
    found = http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}).json()
    assert found["experiment"]["name"] == experiment
    assert found["experiment"]["lifecycle_stage"] == "active"
    tagged = http.post(
        f"{API}/experiments/create",
        json={"name": experiment + "t", "tags": [{"key": "a", "value": "b"}]},
    )
    assert tagged.status_code == 200, tagged.text
    made = http.get(
        f"{API}/experiments/get", params={"experiment_id": tagged.json()["experiment_id"]}
    )
    assert made.json()["experiment"]["tags"] == [{"key": "a", "value": "b"}]
    listed = http.post(
        f"{API}/experiments/search", json={"filter": f"name LIKE '{experiment[:8]}%'"}
    ).json()
    assert experiment in [e["name"] for e in listed["experiments"]]


def test_run_writes_are_checked_and_kept(
    http: httpx.Client, experiment: str, sqlite_server: LiveServer, role_tokens: dict[str, str]
) -> None:
    _, run_id = _run(http, experiment)
    logged = http.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": run_id,
            "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 3}],
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    )
    assert logged.status_code == 200 and logged.json() == {}, logged.text
    changed = http.post(
        f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.2"}
    )
    assert "cannot change" in refusal(changed, 409, "INVALID_PARAMETER_VALUE")
    nan = http.post(
        f"{API}/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": "NaN", "timestamp": 1, "step": 4},
    )
    assert "finite" in refusal(nan, 422, "INVALID_PARAMETER_VALUE")
    unknown = http.post(
        f"{API}/runs/set-tag", json={"run_id": "run-00000000", "key": "a", "value": "b"}
    )
    refusal(unknown, 404, "RESOURCE_DOES_NOT_EXIST")
    no_id = http.post(f"{API}/runs/log-metric", json={"key": "loss", "value": 1})
    assert "run_id" in refusal(no_id, 422, "INVALID_PARAMETER_VALUE")
    no_tag = http.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "absent"})
    refusal(no_tag, 404, "RESOURCE_DOES_NOT_EXIST")
    ended = http.post(
        f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": 2}
    )
    assert ended.json()["run_info"]["status"] == "FINISHED"
    history = http.get(
        f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    )
    assert history.json()["metrics"] == [
        {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 3}
    ]
    client = RemoteClient(sqlite_server.url, role_tokens["viewer"])
    try:
        run = client.get_run(run_id)
    finally:
        client.close()
    assert (run.params, run.metrics, run.status) == ({"lr": "0.1"}, {"loss": 0.5}, "FINISHED")
    assert run.tags == {"team": "a", "mlflow.runName": "r1"}


def test_artifacts_stream_in_and_out_by_content(http: httpx.Client, experiment: str) -> None:
    experiment_id, run_id = _run(http, experiment)
    base = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts"
    payload = bytes(range(256)) * 4096  # 1 MiB
    assert http.put(f"{base}/data/blob.bin", content=payload).status_code == 200
    got = http.get(f"{base}/data/blob.bin")
    assert got.content == payload
    assert len(got.headers["x-content-blake3"]) == 64
    listed = http.get(ARTIFACTS, params={"path": f"{experiment_id}/{run_id}/artifacts"}).json()
    assert listed == {"files": [{"path": "data", "is_dir": True}]}
    inner = http.get(ARTIFACTS, params={"path": f"{experiment_id}/{run_id}/artifacts/data"})
    assert inner.json() == {
        "files": [{"path": "blob.bin", "is_dir": False, "file_size": len(payload)}]
    }
    escape = http.put(f"{base}/data/%2E%2E/%2E%2E/x", content=b"x")
    assert escape.status_code in (404, 422), escape.text
    missing = http.get(f"{base}/absent.txt")
    refusal(missing, 404, "RESOURCE_DOES_NOT_EXIST")
    wrong = http.get(f"{ARTIFACTS}/{experiment_id}/{run_id}/elsewhere/x")
    assert "must be <experiment id>/<run id>/artifacts" in refusal(
        wrong, 422, "INVALID_PARAMETER_VALUE"
    )


def test_a_viewer_reads_but_never_writes(
    sqlite_server: LiveServer, role_tokens: dict[str, str], http: httpx.Client, experiment: str
) -> None:
    experiment_id, run_id = _run(http, experiment)
    viewer = {"authorization": f"Bearer {role_tokens['viewer']}"}
    with httpx.Client(base_url=sqlite_server.url, headers=viewer, timeout=60) as mine:
        assert mine.get(f"{API}/runs/get", params={"run_id": run_id}).status_code == 200
        searched = mine.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id]})
        assert [r["info"]["run_id"] for r in searched.json()["runs"]] == [run_id]
        write = mine.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1})
        assert "needs the editor role" in refusal(write, 403, "PERMISSION_DENIED")
        upload = mine.put(f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/x.txt", content=b"x")
        refusal(upload, 403, "PERMISSION_DENIED")
    anonymous = httpx.post(sqlite_server.url + f"{API}/runs/search", json={}, timeout=60)
    refusal(anonymous, 401, "UNAUTHENTICATED")


def test_an_endpoint_loopml_does_not_serve_says_so(http: httpx.Client) -> None:
    answer = http.post(f"{API}/traces/search", json={"experiment_ids": ["0"]})
    assert "docs/mlflow.md" in refusal(answer, 404, "ENDPOINT_NOT_FOUND")


def test_dataset_inputs_are_kept_as_json_artifacts(http: httpx.Client, experiment: str) -> None:
    experiment_id, run_id = _run(http, experiment)
    dataset = {"name": "bikes", "digest": "abc123", "source_type": "local", "source": "x.csv"}
    item = {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "training"}]}
    logged = http.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [item]})
    assert logged.status_code == 200, logged.text
    stored = http.get(
        f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/mlflow-inputs/bikes-abc123.json"
    )
    assert stored.json() == item
    nameless = http.post(
        f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [{"dataset": {}}]}
    )
    assert "needs a dataset with a name" in refusal(nameless, 422, "INVALID_PARAMETER_VALUE")


def test_writes_reach_the_run_however_its_id_is_spelled(
    http: httpx.Client, experiment: str
) -> None:
    _, run_id = _run(http, experiment)
    digits = run_id.removeprefix("run-")
    metric = {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000}
    for step, spelled in enumerate((run_id, run_id[:12], f"run:{digits}", digits[:10])):
        batch = http.post(
            f"{API}/runs/log-batch",
            json={"run_id": spelled, "metrics": [{**metric, "step": step}]},
        )
        assert batch.status_code == 200, batch.text
        single = http.post(
            f"{API}/runs/log-metric", json={"run_id": spelled, **metric, "step": 10 + step}
        )
        assert single.status_code == 200, single.text
        tagged = http.post(
            f"{API}/runs/set-tag", json={"run_id": spelled, "key": f"t{step}", "value": "v"}
        )
        assert tagged.status_code == 200, tagged.text
        param = http.post(
            f"{API}/runs/log-parameter", json={"run_id": spelled, "key": f"p{step}", "value": "1"}
        )
        assert param.status_code == 200, param.text
    history = http.get(
        f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    ).json()["metrics"]
    assert [m["step"] for m in history] == [0, 1, 2, 3, 10, 11, 12, 13]
    data = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert {p["key"] for p in data["params"]} == {"p0", "p1", "p2", "p3"}
    assert {"t0", "t1", "t2", "t3"} <= {t["key"] for t in data["tags"]}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/runs/log-batch", {"metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}),
        ("/runs/log-batch", {"params": [{"key": "p", "value": "1"}]}),
        ("/runs/log-batch", {"tags": [{"key": "t", "value": "1"}]}),
        ("/runs/log-batch", {}),  # nothing to write: still refused
        ("/runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}),
        ("/runs/log-parameter", {"key": "p", "value": "1"}),
        ("/runs/set-tag", {"key": "t", "value": "1"}),
    ],
)
def test_a_write_to_a_run_that_does_not_exist_is_refused(
    http: httpx.Client, route: str, body: dict[str, object]
) -> None:
    for run_id in ("run-0123456789abcdef01234567", "run:0123456789ab", "0123456789ab"):
        answer = http.post(API + route, json={"run_id": run_id, **body})
        assert "no run" in refusal(answer, 404, "RESOURCE_DOES_NOT_EXIST")


def test_a_searched_run_carries_what_mlflow_answers_and_no_more(
    http: httpx.Client, experiment: str
) -> None:
    """The stock client turns every field of a search answer into an object: fields and
    tags that `mlflow server` would not send cost it time for nothing."""
    experiment_id, run_id = _run(http, experiment)
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "m0", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 0}],
        "params": [{"key": "p0", "value": "x"}],
    }
    assert http.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    ended = {"run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_000_500}
    assert http.post(f"{API}/runs/update", json=ended).status_code == 200
    (run,) = http.post(
        f"{API}/runs/search", json={"experiment_ids": [experiment_id], "max_results": 1000}
    ).json()["runs"]
    assert set(run) == {"info", "data", "inputs", "outputs"}
    assert set(run["info"]) == {
        "run_id",
        "run_uuid",
        "run_name",
        "experiment_id",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "artifact_uri",
        "lifecycle_stage",
    }
    assert run["data"]["tags"] == [{"key": "mlflow.runName", "value": "r1"}]
    assert run["data"]["params"] == [{"key": "p0", "value": "x"}]
    assert [m["key"] for m in run["data"]["metrics"]] == ["m0"]
