"""schemathesis against a real `loopml server`'s OpenAPI document, with auth on: no
generated input, valid or not, makes the server fail (5xx), and its answers keep to the
document (status codes, content types, the Allow header)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import start_server

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
]


@pytest.mark.slow
@pytest.mark.timeout(1500)  # ~100 operations, each fuzzed: longer than the default limit
def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        reason = "schemathesis is not installed (pip install 'loopml[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = start_server(tmp_path / "ws")
    try:
        result = subprocess.run(
            [
                str(cli),
                "run",
                f"{server.url}/openapi.json",
                "--header",
                f"Authorization: Bearer {server.admin_token()}",
                "--checks",
                ",".join(CHECKS),
                "--max-examples",
                "20",
                "--seed",
                "7",
                "--phases",
                "examples,coverage,fuzzing",
                "--generation-database",
                "none",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            cwd=tmp_path,
            check=False,
        )
    finally:
        server.stop()
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in server.stderr()
