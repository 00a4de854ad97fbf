"""The controller inside `loopml server`: a dataset version uploaded through the API fires
a trigger, and the server's own controller loop launches its pipeline."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.artifacts.hashing import hash_bytes
from loopml.config import init_workspace, load_settings
from loopml.sdk import Client
from tests.controller.conftest import frame
from tests.controller.helpers import lines, wait_for
from tests.server.live import LiveServer, cli_environment, free_port

ROOT = Path(__file__).resolve().parents[2]  # so the server imports tests.controller.helpers


def _csv(table: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.mark.slow
def test_the_server_runs_the_controller_loop(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws")
    calls = tmp_path / "calls.jsonl"
    local = Client(load_settings(root, environ={}))
    try:
        local.log_dataset("bikes", frame(1))
        local.triggers.create(
            "retrain",
            "dataset:bikes",
            "tests.controller.helpers:record",
            params={"log": str(calls), "data": "{trigger.dataset}"},
        )
    finally:
        local.close()
    env = cli_environment()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(ROOT)])
    server = LiveServer(root, free_port(), env, ["--controller-interval", "0.3"]).start()
    try:
        admin = {"authorization": f"Bearer {server.admin_token()}"}
        data = _csv(frame(2))
        uploaded = httpx.post(
            f"{server.url}/api/v1/datasets/bikes/versions",
            params={"filename": "bikes.csv"},
            content=data,
            headers={**admin, "x-content-blake3": hash_bytes(data)},
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
        wait_for(calls, timeout=120)
        (call,) = lines(calls)
        assert call["params"] == {"data": "dataset:bikes@2"}
        triggers = httpx.get(f"{server.url}/api/v1/triggers", headers=admin).json()["triggers"]
        assert [t["name"] for t in triggers] == ["retrain"]
    finally:
        server.stop()
    assert "controller " in server.stderr() and "a pass every 0.3 s" in server.stderr()
    assert "trigger retrain fired" in server.stderr()
