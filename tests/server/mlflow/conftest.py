"""The stock MLflow client's environment (.venv-mlflow, `make .venv-mlflow/.installed`):
skipped with the reason locally when it is missing, a failure in CI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


#: The client environments the client tests run in: the current 3.x and the newest 2.x.
CLIENT_VENVS = {"mlflow3": ".venv-mlflow", "mlflow2": ".venv-mlflow2"}


def venv_python(venv: str, override: str | None = None) -> Path:
    """The interpreter of `venv` (or of `override`, an environment variable's value);
    skipped with the reason locally when it is missing, a failure in CI."""
    python = Path(override) if override else ROOT / venv / "bin" / "python"
    if not python.exists():
        reason = (
            f"MLflow environment missing ({python}): create it with "
            f"`make {venv}/.installed` (`make test` does)"
        )
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return python


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    return venv_python(".venv-mlflow", os.environ.get("LOOPML_MLFLOW_PYTHON"))


@pytest.fixture(scope="session", params=sorted(CLIENT_VENVS))
def any_mlflow_python(request: pytest.FixtureRequest) -> Path:
    """The stock client of each supported major version, one test per version."""
    return venv_python(CLIENT_VENVS[request.param])


@pytest.fixture(scope="session")
def mlflow_server_python() -> Path:
    """The full `mlflow` package (server, SQL store): mlflow-server-requirements.txt."""
    return venv_python(".venv-mlflow-server")


def run_mlflow(
    python: Path, url: str, token: str | None, code: list[str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `code` (a script path and its arguments, or ['-c', source]) with the stock
    client pointed at `url` as the principal of `token`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOOPML_"))}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_DISABLE_TELEMETRY="true")
    env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return subprocess.run(
        [str(python), *code], env=env, capture_output=True, text=True, timeout=timeout
    )


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-4000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def refusal(answer: httpx.Response, status: int, code: str) -> str:
    """The MLflow error a refused request got: its status and code checked, its message."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message
