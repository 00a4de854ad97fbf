"""Presigned URLs against a real S3 server (moto on loopback): artifact bytes go straight
to and from the bucket, the server verifies every upload before recording it, and the
attacks on the scheme (a lying client, a ticket used for another run or by another
principal, an altered ticket, a viewer) are refused with nothing recorded."""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import fsspec
import httpx
import pytest

from loopml.artifacts.hashing import hash_bytes, hash_file
from loopml.config import init_workspace, load_settings
from loopml.errors import ConfigError
from loopml.sdk import RemoteClient, RemoteOptions
from loopml.server import create_app
from loopml.server.errors import ApiError
from loopml.server.tickets import UploadTicket, check_ticket, read_ticket, sign_ticket
from tests.server.conftest import start_server
from tests.server.live import LiveServer, make_principal

pytestmark = pytest.mark.s3
EXPIRY_S = 60
MIB = 1024 * 1024


def _bucket(s3_server: str) -> str:
    bucket = "pre" + uuid.uuid4().hex[:12]
    fs = fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )
    fs.mkdir(bucket)
    return bucket


def _s3_server_process(root: Path, s3_server: str, **extra: str) -> tuple[LiveServer, str]:
    bucket = _bucket(s3_server)
    env = {
        "LOOPML_ARTIFACTS_URL": f"s3://{bucket}/loopml",
        "LOOPML_S3_ENDPOINT_URL": s3_server,
        **extra,
    }
    return start_server(root, env), bucket


@pytest.fixture(scope="module")
def presigning(
    tmp_path_factory: pytest.TempPathFactory, s3_server: str
) -> Iterator[tuple[LiveServer, str, dict[str, str]]]:
    """A server on SQLite and a bucket of the S3 server, presigned URLs on (by default),
    valid for a minute; a token per role (two editors)."""
    server, bucket = _s3_server_process(
        tmp_path_factory.mktemp("presigned"),
        s3_server,
        LOOPML_PRESIGNED_URL_EXPIRY_S=str(EXPIRY_S),
    )
    admin = server.admin_token()
    tokens = {role: make_principal(server, admin, f"p-{role}", role) for role in ("viewer",)}
    tokens["editor"] = make_principal(server, admin, "p-editor", "editor")
    tokens["other"] = make_principal(server, admin, "p-other", "editor")
    yield server, bucket, tokens
    server.stop()


def _client(server: LiveServer, token: str, tmp_path: Path) -> RemoteClient:
    """A remote client that takes presigned URLs for files of any size."""
    options = RemoteOptions(journal_dir=tmp_path / "j", direct_min_bytes=0)
    return RemoteClient(server.url, token, options)


def _objects(s3_server: str, bucket: str, folder: str) -> list[str]:
    fs = fsspec.filesystem(
        "s3", client_kwargs={"endpoint_url": s3_server}, skip_instance_cache=True
    )
    path = f"{bucket}/loopml/{folder}"
    return [str(p) for p in fs.find(path)] if fs.exists(path) else []


def _requests(server: LiveServer, method: str, route: str) -> float:
    """How many answers the server counted for a route template (its /metrics)."""
    total = 0.0
    for line in httpx.get(server.url + "/metrics", timeout=10).text.splitlines():
        labels = (f'route="{route}"', f'method="{method}"')
        if line.startswith("loopml_server_requests_total{") and all(x in line for x in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _plan(http: httpx.Client, run_id: str, path: str, data: bytes) -> dict[str, object]:
    answer = http.post(
        f"/runs/{run_id}/artifact-uploads",
        json={"path": path, "digest": hash_bytes(data), "size": len(data)},
    )
    assert answer.status_code == 200, answer.text
    plan: dict[str, object] = answer.json()
    assert plan["direct"] is True
    return plan


def _api(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"authorization": f"Bearer {token}"}, timeout=60
    )


def test_an_artifact_goes_straight_to_the_bucket_and_back(
    presigning: tuple[LiveServer, str, dict[str, str]], s3_server: str, tmp_path: Path
) -> None:
    server, bucket, tokens = presigning
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(24 * MIB))
    proxied_before = _requests(server, "PUT", "/api/v1/runs/{run_id}/artifacts/{path:path}")
    client = _client(server, tokens["editor"], tmp_path)
    try:
        with client.start_run("direct", capture_code=False) as run:
            assert run.log_artifact(source) == ["weights.bin"]
        (listed,) = client.list_artifacts(run.id)
        assert listed["digest"] == hash_file(source) and listed["size"] == 24 * MIB
        back = client.download_artifact(run.id, "weights.bin", tmp_path / "back.bin")
        assert hash_file(back) == listed["digest"]
    finally:
        client.close()
    after = _requests(server, "PUT", "/api/v1/runs/{run_id}/artifacts/{path:path}")
    assert after == proxied_before, "the bytes went through the server"
    assert _requests(server, "POST", "/api/v1/runs/{run_id}/artifact-uploads/{upload_id}") >= 1
    assert _requests(server, "GET", "/api/v1/runs/{run_id}/artifact-links/{path:path}") >= 1
    digest = listed["digest"]
    assert f"{bucket}/loopml/blobs/{digest[:2]}/{digest[2:]}" in _objects(s3_server, bucket, "")
    assert _objects(s3_server, bucket, "staging") == []
    assert _objects(s3_server, bucket, "verifying") == []


def test_a_client_that_lies_about_the_hash_or_size_is_caught(
    presigning: tuple[LiveServer, str, dict[str, str]], s3_server: str, tmp_path: Path
) -> None:
    server, bucket, tokens = presigning
    client = _client(server, tokens["editor"], tmp_path)
    run = client.start_run("liars", capture_code=False)
    run.materialize()  # raw HTTP below: the run must exist on the server first
    try:
        with _api(server, tokens["editor"]) as http:
            announced, sent = b"the bytes announced" * 1000, b"other bytes, sent" * 1000
            for lie, body in (("digest", sent), ("size", announced + b"!")):
                plan = _plan(http, run.id, f"{lie}.bin", announced)
                put = httpx.put(str(plan["url"]), content=body)
                assert put.status_code == 200, put.text
                commit = http.post(
                    f"/runs/{run.id}/artifact-uploads/{plan['upload_id']}",
                    json={"ticket": plan["ticket"]},
                )
                assert commit.status_code == 422, commit.text
                assert commit.json()["error"] == "digest_mismatch"
                assert "nothing was recorded" in commit.json()["detail"]
        assert client.list_artifacts(run.id) == []
        blobs = _objects(s3_server, bucket, "blobs")
        for data in (announced, sent, announced + b"!"):
            digest = hash_bytes(data)
            assert f"{bucket}/loopml/blobs/{digest[:2]}/{digest[2:]}" not in blobs
        assert _objects(s3_server, bucket, "staging") == []
        assert _objects(s3_server, bucket, "verifying") == []
    finally:
        run.end()
        client.close()


def test_an_upload_url_is_scoped_to_one_run_one_object_and_a_short_time(
    presigning: tuple[LiveServer, str, dict[str, str]], tmp_path: Path
) -> None:
    server, _, tokens = presigning
    client = _client(server, tokens["editor"], tmp_path)
    mine = client.start_run("scoped", capture_code=False)
    theirs = client.start_run("scoped", capture_code=False, nested=True)
    mine.materialize()  # raw HTTP below: both runs must exist on the server first
    theirs.materialize()
    data = b"payload for run A" * 100
    try:
        with _api(server, tokens["editor"]) as http:
            plan = _plan(http, mine.id, "a.bin", data)
            url = urlsplit(str(plan["url"]))
            query = parse_qs(url.query)
            assert url.path.endswith(f"/loopml/staging/{mine.id}/{plan['upload_id']}")
            assert query["X-Amz-Expires"] == [str(EXPIRY_S)]
            assert query["X-Amz-SignedHeaders"] == ["host"] and query["X-Amz-Signature"]
            # The signature covers the key: the same URL pointed at run B's staging object
            # is refused by S3 (moto does not check signatures, so the server must not rely
            # on that): the object lands there, but no ticket lets run B record it.
            forged = str(plan["url"]).replace(f"/staging/{mine.id}/", f"/staging/{theirs.id}/")
            assert httpx.put(forged, content=data).status_code == 200
            commit_b = http.post(
                f"/runs/{theirs.id}/artifact-uploads/{plan['upload_id']}",
                json={"ticket": plan["ticket"]},
            )
            assert commit_b.status_code == 403, commit_b.text
            assert "not upload" in commit_b.json()["detail"]
            # An altered ticket (run B written into it) fails its MAC.
            payload, mac = str(plan["ticket"]).split(".")
            fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            fields = fields.replace(mine.id.encode(), theirs.id.encode())
            altered = base64.urlsafe_b64encode(fields).decode().rstrip("=")
            commit_altered = http.post(
                f"/runs/{theirs.id}/artifact-uploads/{plan['upload_id']}",
                json={"ticket": f"{altered}.{mac}"},
            )
            assert commit_altered.status_code == 403, commit_altered.text
            # Another principal cannot commit the upload either.
            with _api(server, tokens["other"]) as other:
                stolen = other.post(
                    f"/runs/{mine.id}/artifact-uploads/{plan['upload_id']}",
                    json={"ticket": plan["ticket"]},
                )
            assert stolen.status_code == 403, stolen.text
        assert client.list_artifacts(theirs.id) == []
        assert client.list_artifacts(mine.id) == []
    finally:
        theirs.end()
        mine.end()
        client.close()


def test_a_viewer_gets_no_upload_url_but_may_download(
    presigning: tuple[LiveServer, str, dict[str, str]], tmp_path: Path
) -> None:
    server, _, tokens = presigning
    editor = _client(server, tokens["editor"], tmp_path)
    try:
        with editor.start_run("viewers", capture_code=False) as run:
            run.log_bytes(b"x" * 1000, "small.bin")
        with _api(server, tokens["viewer"]) as http:
            refused = http.post(
                f"/runs/{run.id}/artifact-uploads",
                json={"path": "v.bin", "digest": "0" * 64, "size": 1},
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"] == "forbidden"
            link = http.get(f"/runs/{run.id}/artifact-links/small.bin")
            assert link.status_code == 200 and link.json()["direct"] is True
            assert httpx.get(link.json()["url"]).content == b"x" * 1000
    finally:
        editor.close()


def test_with_presigning_off_the_client_streams_through_the_server(
    tmp_path: Path, s3_server: str
) -> None:
    server, _ = _s3_server_process(tmp_path / "ws", s3_server, LOOPML_PRESIGNED_URLS="false")
    try:
        token = make_principal(server, server.admin_token(), "proxied", "editor")
        client = _client(server, token, tmp_path)
        try:
            source = tmp_path / "model.bin"
            source.write_bytes(os.urandom(3 * MIB))
            with client.start_run("proxied", capture_code=False) as run:
                plan = client.http.call(
                    "POST",
                    f"/runs/{run.id}/artifact-uploads",
                    json={"path": "m.bin", "digest": hash_file(source), "size": 3 * MIB},
                )
                assert plan["direct"] is False and "off" in plan["reason"]
                assert run.log_artifact(source) == ["model.bin"]
            back = client.download_artifact(run.id, "model.bin", tmp_path / "back.bin")
            assert hash_file(back) == hash_file(source)
        finally:
            client.close()
        route = "/api/v1/runs/{run_id}/artifacts/{path:path}"
        assert _requests(server, "PUT", route) == 1
        assert _requests(server, "GET", route) == 1
    finally:
        server.stop()


def test_presigned_urls_on_a_local_store_are_refused(tmp_path: Path) -> None:
    settings = load_settings(init_workspace(tmp_path), environ={}, presigned_urls=True)
    with pytest.raises(ConfigError, match="s3:// artifact store"):
        create_app(settings)


def test_a_ticket_is_refused_after_its_grace_time_and_for_another_principal() -> None:
    key = os.urandom(32)
    ticket = UploadTicket("u1", "run-1", "a.bin", "0" * 64, 1, "ann", time.time() - 7 * 3600)
    found = read_ticket(key, sign_ticket(key, ticket))
    assert found == ticket
    with pytest.raises(ApiError, match="expired"):
        check_ticket(found, "run-1", "u1", "ann")
    fresh = UploadTicket("u1", "run-1", "a.bin", "0" * 64, 1, "ann", time.time() + 60)
    with pytest.raises(ApiError, match="another principal"):
        check_ticket(fresh, "run-1", "u1", "bob")
    with pytest.raises(ApiError, match="not issued by this server"):
        read_ticket(os.urandom(32), sign_ticket(key, fresh))


def test_a_dataset_file_downloads_straight_from_the_bucket(
    presigning: tuple[LiveServer, str, dict[str, str]], tmp_path: Path
) -> None:
    server, _, tokens = presigning
    source = tmp_path / "rides.csv"
    source.write_text("hour,rides\n" + "".join(f"{h},{h * 3}\n" for h in range(24)))
    before = _requests(server, "GET", "/api/v1/datasets/{ref}/files/{path:path}")
    client = _client(server, tokens["editor"], tmp_path)
    try:
        version = client.log_dataset("rides" + uuid.uuid4().hex[:6], source)
        (back,) = client.download_dataset(version, tmp_path / "back")
        assert back.read_bytes() == source.read_bytes()
        assert client.load_dataset(version)["rides"].sum() == 3 * sum(range(24))
    finally:
        client.close()
    assert _requests(server, "GET", "/api/v1/datasets/{ref}/file-links/{path:path}") >= 2
    assert _requests(server, "GET", "/api/v1/datasets/{ref}/files/{path:path}") == before
