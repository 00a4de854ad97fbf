"""The routes that read their body with `read_body` (a run's batches and its end) refuse
bad bodies as the routes FastAPI validates do, and the OpenAPI document describes them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.live import LiveServer

_JSON = {"content-type": "application/json"}


def _refusal(answer: httpx.Response) -> tuple[int, str]:
    body = answer.json()
    assert body["detail"] and isinstance(body["hint"], str), body
    return answer.status_code, str(body["error"])


@pytest.fixture
def run_id(api: dict[str, Any], experiment: str) -> str:
    answer = api["editor"].post("/runs", json={"experiment": experiment})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.mark.parametrize("route", ["batches", "end"])
def test_bad_bodies_are_refused_like_model_routes(
    api: dict[str, Any], run_id: str, route: str
) -> None:
    editor = api["editor"]
    hot = f"/runs/{run_id}/{route}"
    model = f"/runs/{run_id}/params"  # FastAPI validates this one
    for content, headers in (
        (b'{"params": ', _JSON),  # does not parse: 400 malformed
        (b"", _JSON),  # no body: 422
        (b"{}", {"content-type": "text/plain"}),  # not JSON: 422
        (b"[1, 2]", _JSON),  # not an object: 422
    ):
        expected = _refusal(editor.post(model, content=content, headers=headers))
        assert _refusal(editor.post(hot, content=content, headers=headers)) == expected

    body = _refusal_body(editor.post(hot, json={"colour": "red"}))
    assert body["error"] == "invalid" and "body.colour" in body["detail"]
    stream = {"id": "stream-0001", "start": 0, "end": 10, "points": [["m", 1.0, -1, 0.0]]}
    body = _refusal_body(editor.post(hot, json={"stream": stream}))
    assert body["error"] == "invalid" and "body.stream.points.0.2" in body["detail"]
    # nothing refused was stored: the run is still open, with no metric
    run = editor.get(f"/runs/{run_id}").json()
    assert run["status"] == "RUNNING" and run["metrics"] == {}


def _refusal_body(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_good_body_is_stored(api: dict[str, Any], run_id: str) -> None:
    editor = api["editor"]
    stream = {"id": "stream-0002", "start": 0, "end": 10, "points": [["m", 0.5, 0, 1.0]]}
    answer = editor.post(f"/runs/{run_id}/batches", json={"params": {"p": 1}, "stream": stream})
    assert answer.status_code == 200 and answer.json()["absorbed"] == 10, answer.text
    answer = editor.post(f"/runs/{run_id}/end", json={"stream_id": "stream-0002", "stream_end": 10})
    assert answer.status_code == 200, answer.text
    run = editor.get(f"/runs/{run_id}").json()
    assert run["status"] == "FINISHED" and run["metrics"] == {"m": 0.5}
    assert run["params"]["p"] in ("1", 1)


def test_viewers_and_anonymous_callers_are_refused_before_the_body(
    api: dict[str, Any], sqlite_server: LiveServer, run_id: str
) -> None:
    answer = api["viewer"].post(f"/runs/{run_id}/end", content=b"{", headers=_JSON)
    assert _refusal(answer) == (403, "forbidden")
    anonymous = httpx.post(sqlite_server.url + f"/api/v1/runs/{run_id}/end", json={})
    assert anonymous.status_code == 401


def test_the_openapi_document_describes_the_bodies(sqlite_server: LiveServer) -> None:
    document = httpx.get(sqlite_server.url + "/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, model in (("batches", "Batch"), ("end", "EndRun")):
        operation = document["paths"][f"/api/v1/runs/{{run_id}}/{path}"]["post"]
        body = operation["requestBody"]
        assert body["required"] is True
        reference = body["content"]["application/json"]["schema"]["$ref"]
        assert reference == f"#/components/schemas/{model}"
        assert "status" in schemas["EndRun"]["properties"]
    assert "points" in schemas["StreamSegment"]["properties"]
    assert schemas["Batch"]["additionalProperties"] is False
