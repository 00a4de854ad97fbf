"""An editor's monitor cannot make `loopml server` call into its own network: webhook
sinks at loopback, private, link-local (cloud metadata) addresses, or names that resolve
there, are refused and nothing is stored; a host the operator listed is accepted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.sdk import RemoteClient, RemoteOptions
from tests.server.conftest import register_versions, start_server
from tests.server.live import LiveServer

INWARD = [
    "http://127.0.0.1:6379/",
    "http://localhost:5432/",
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://10.0.0.1/admin",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]:80/",
    "http://0.0.0.0:6379/",
]


def _http(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"authorization": f"Bearer {token}"}, timeout=60
    )


@pytest.mark.parametrize("url", INWARD)
def test_an_editor_cannot_point_a_monitor_webhook_inward(
    sqlite_server: LiveServer, role_tokens: dict[str, str], url: str
) -> None:
    name = "egress-" + uuid.uuid4().hex[:8]
    with _http(sqlite_server, role_tokens["editor"]) as http:
        answer = http.post(
            "/monitors",
            json={"name": name, "source": "deployment:nowhere", "sinks": [f"webhook:{url}"]},
        )
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert "webhook_hosts" in body["detail"] + body.get("hint", "")
        assert name not in [m["name"] for m in http.get("/monitors").json()["monitors"]]


@pytest.fixture
def listed_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "ws", {"LOOPML_WEBHOOK_HOSTS": "127.0.0.1:9999"})
    yield server
    server.stop()


@pytest.mark.slow
def test_a_listed_host_is_accepted_and_others_still_refused(
    listed_server: LiveServer, tmp_path: Path
) -> None:
    admin = RemoteClient(
        listed_server.url, listed_server.admin_token(), RemoteOptions(journal_dir=tmp_path / "j")
    )
    try:
        register_versions(admin, "egress")
        admin.deployments.create("egress-api", "model:egress/1", override_reason="tests")
        made = admin.monitors.create(
            "listed", "deployment:egress-api", sinks=["webhook:http://127.0.0.1:9999/hook"]
        )
        assert made.name == "listed"
        assert "webhook:http://127.0.0.1:9999/hook" in admin.monitors.get("listed").config.sinks
        with pytest.raises(Exception, match="webhook_hosts"):
            admin.monitors.create(
                "unlisted", "deployment:egress-api", sinks=["webhook:http://127.0.0.1:9998/hook"]
            )
        assert [m.name for m in admin.monitors.list()] == ["listed"]
    finally:
        admin.close()
