"""Artifacts attach to a run under a safe relative path and are read back by digest."""

from __future__ import annotations

import pytest

from loopml.errors import NotFoundError, ValidationError
from loopml.sdk import Client


def test_bytes_round_trip_and_a_second_write_replaces_the_first(client: Client) -> None:
    with client.start_run("art", capture_code=False) as run:
        artifacts = client.tracking.artifacts
        assert artifacts.log_artifact_bytes(run.id, b"one", "notes/a.txt") == "notes/a.txt"
        artifacts.log_artifact_bytes(run.id, b"two", "/notes/a.txt")
        assert artifacts.read_artifact(run.id, "notes/a.txt") == b"two"
        listed = [a for a in artifacts.list_artifacts(run.id) if a["path"] == "notes/a.txt"]
        assert len(listed) == 1 and listed[0]["media_type"] == "text/plain"


@pytest.mark.parametrize("bad", ["", "../up", "a/../b", "a//b", "x" * 1001])
def test_paths_that_escape_or_are_empty_are_refused(client: Client, bad: str) -> None:
    with (
        client.start_run("art", capture_code=False) as run,
        pytest.raises(ValidationError, match="must be a relative path without"),
    ):
        client.tracking.artifacts.log_artifact_bytes(run.id, b"x", bad)


def test_unknown_runs_and_paths_are_not_found(client: Client) -> None:
    artifacts = client.tracking.artifacts
    with pytest.raises(NotFoundError, match="no run run-missing"):
        artifacts.log_artifact_bytes("run-missing", b"x", "a.txt")
    with client.start_run("art", capture_code=False) as run:
        error = pytest.raises(NotFoundError, match=r"has no artifact 'nothing\.txt'")
        with error:
            artifacts.artifact_digest(run.id, "nothing.txt")
