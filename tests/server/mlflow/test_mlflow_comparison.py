"""The same client script against `mlflow server` and `loopml server` gives the same answers.

The script's JSON line names what it made; ids that differ between the two runs of it
(same place in both JSON lines) are replaced by placeholders, then each server's state is
read back through the MLflow REST API (runs in search order, params, metrics, histories,
tags, artifact listings) and compared. Whatever the script adds to its JSON line is
compared the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live import LiveServer
from tests.server.mlflow.conftest import last_json, run_mlflow, venv_python
from tests.server.mlflow.mlflow_server import mlflow_server

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("mlflow_client_script.py")
API = "/api/2.0/mlflow"
#: Tags the two servers fill in from their own facts (who, when), not from the script.
SERVER_TAGS = ("mlflow.user",)


def _pairs(mlflow: Any, loopml: Any, found: dict[str, str], where: str = "") -> None:
    """loopml's value → a placeholder, mlflow's value → the same one, where they differ."""
    if isinstance(mlflow, dict) and isinstance(loopml, dict):
        assert set(mlflow) == set(loopml), where
        for key in mlflow:
            _pairs(mlflow[key], loopml[key], found, f"{where}.{key}")
    elif isinstance(mlflow, list) and isinstance(loopml, list):
        assert len(mlflow) == len(loopml), where
        for i, (a, b) in enumerate(zip(mlflow, loopml, strict=True)):
            _pairs(a, b, found, f"{where}[{i}]")
    elif mlflow != loopml:
        assert isinstance(mlflow, str) and isinstance(loopml, str), where
        found[mlflow] = found[loopml] = f"<{where}>"


def _normal(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {_normal(k, ids): _normal(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, ids) for v in value]
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        for raw, placeholder in sorted(ids.items(), key=lambda kv: -len(kv[0])):
            if len(raw) >= 16:  # run ids inside longer text; short ids only whole
                value = value.replace(raw, placeholder)
    return value


def _listing(http: httpx.Client, base: str) -> list[Any]:
    """The proxied artifact listing under `base` (<experiment>/<run>/artifacts[/…])."""
    found = http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": base})
    if found.status_code != 200:
        return [("unlisted", found.status_code)]
    files: list[Any] = []
    for item in sorted(found.json().get("files", []), key=lambda f: f["path"]):
        name = item["path"].rsplit("/", 1)[-1]
        if item.get("is_dir"):
            files.append((name, _listing(http, f"{base}/{name}")))
        else:
            files.append((name, int(item.get("file_size", -1))))
    return files


def _state(url: str, token: str | None, experiment_id: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        found = http.post(
            f"{API}/runs/search", json={"experiment_ids": [experiment_id], "max_results": 1000}
        ).json()
        runs = []
        for run in found.get("runs", []):
            info, data = run["info"], run["data"]
            run_id = info["run_id"]
            metrics = {m["key"]: m["value"] for m in data.get("metrics", [])}
            histories = {
                key: [
                    (m["step"], m["value"])
                    for m in http.get(
                        f"{API}/metrics/get-history",
                        params={"run_id": run_id, "metric_key": key},
                    ).json()["metrics"]
                ]
                for key in sorted(metrics)
            }
            runs.append(
                {
                    "id": run_id,
                    "name": info["run_name"],
                    "status": info["status"],
                    "params": {p["key"]: p["value"] for p in data.get("params", [])},
                    "metrics": metrics,
                    "histories": histories,
                    "tags": {
                        t["key"]: t["value"]
                        for t in data.get("tags", [])
                        if t["key"] not in SERVER_TAGS
                    },
                    "artifacts": _listing(
                        http, info["artifact_uri"].removeprefix("mlflow-artifacts:/")
                    ),
                }
            )
    return {"runs": runs}


def test_the_client_script_gets_the_same_answers_from_both_servers(
    mlflow_python: Path,
    sqlite_server: LiveServer,
    role_tokens: dict[str, str],
    experiment: str,
    tmp_path: Path,
) -> None:
    server_python = venv_python(".venv-mlflow-server")
    with mlflow_server(server_python, tmp_path / "mlflow.db", tmp_path / "artifacts") as url:
        reference = last_json(run_mlflow(mlflow_python, url, None, [str(SCRIPT), experiment]))
        expected = _state(url, None, reference["experiment_id"])
    ours = last_json(
        run_mlflow(
            mlflow_python, sqlite_server.url, role_tokens["editor"], [str(SCRIPT), experiment]
        )
    )
    got = _state(sqlite_server.url, role_tokens["editor"], ours["experiment_id"])
    ids: dict[str, str] = {}
    _pairs(reference, ours, ids)
    mine, theirs = _normal(got, ids), _normal(expected, ids)
    assert mine == theirs, "\n".join(_differences(theirs, mine))[:6000]


def _differences(mlflow: Any, loopml: Any, path: str = "") -> list[str]:
    """Where two answers differ, one line each: the path, MLflow's value, loopml's."""
    if isinstance(mlflow, dict) and isinstance(loopml, dict):
        found: list[str] = []
        for key in sorted(set(mlflow) | set(loopml), key=str):
            found += _differences(mlflow.get(key), loopml.get(key), f"{path}.{key}")
        return found
    if isinstance(mlflow, list) and isinstance(loopml, list) and len(mlflow) == len(loopml):
        return [
            line
            for i, (a, b) in enumerate(zip(mlflow, loopml, strict=True))
            for line in _differences(a, b, f"{path}[{i}]")
        ]
    if mlflow == loopml:
        return []
    return [f"{path}: mlflow {json.dumps(mlflow)[:300]} / loopml {json.dumps(loopml)[:300]}"]
