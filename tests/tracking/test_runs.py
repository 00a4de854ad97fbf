"""Run writes: the final status, immutable params, and unknown runs."""

from __future__ import annotations

import pytest

from loopml.errors import ConflictError, NotFoundError, ValidationError
from loopml.sdk import Client
from loopml.tracking.runs import require_run


def test_a_run_cannot_end_as_running(client: Client) -> None:
    runs = client.tracking.runs
    run_id = runs.create_run("writes", capture=False)
    with pytest.raises(ValidationError, match="FINISHED, FAILED or KILLED"):
        runs.end_run(run_id, "RUNNING")
    runs.end_run(run_id, "FINISHED")
    with client.tracking.engine.connect() as conn:
        assert require_run(conn, run_id) == "FINISHED"


def test_params_never_change_but_may_be_repeated(client: Client) -> None:
    runs = client.tracking.runs
    run_id = runs.create_run("writes", capture=False)
    runs.log_params(run_id, {"alpha": 1})
    runs.log_params(run_id, {"alpha": 1, "beta": 2})  # same value again: accepted
    with pytest.raises(ConflictError, match="cannot change"):
        runs.log_params(run_id, {"alpha": 3})
    assert client.tracking.get_run(run_id).params == {"alpha": "1", "beta": "2"}


def test_writes_to_an_unknown_run_are_refused(client: Client) -> None:
    runs = client.tracking.runs
    with pytest.raises(NotFoundError, match="no run run-missing"):
        runs.set_tags("run-missing", {"k": "v"})
    with pytest.raises(NotFoundError, match="no run run-missing"):
        runs.log_params("run-missing", {"k": "v"})


def test_a_batch_for_an_unknown_run_is_not_found(client: Client) -> None:
    """Tags alone (no params to reveal it): still a clear NotFoundError, not a database
    error."""
    with pytest.raises(NotFoundError, match="no run run-00000000"):
        client.tracking.log_batch("run-00000000", [], {}, {"team": "ml"})
    with pytest.raises(NotFoundError, match="no run"):
        client.tracking.log_batch("run-00000000", [("loss", 1.0, 0, 1.0)], {}, {})


def test_tags_are_deleted_and_a_missing_one_is_named(client: Client) -> None:
    tracking = client.tracking
    run_id = tracking.create_run("exp", capture=False)
    tracking.set_tags(run_id, {"a": "1", "b": "2"})
    tracking.delete_tags(run_id, ["a"])
    assert tracking.get_run(run_id).tags == {"b": "2"}
    with pytest.raises(NotFoundError, match="has no tag 'a'"):
        tracking.delete_tags(run_id, ["a", "b"])
    assert tracking.get_run(run_id).tags == {"b": "2"}  # nothing removed when one is missing
    tracking.end_run(run_id, "FINISHED")
    tracking.delete_tags(run_id, ["b"])  # the ended run's summary follows
    assert tracking.get_run(run_id).tags == {}
    actions = [e.action for e in client.audit_events(f"run:{run_id[4:]}")]
    assert actions.count("run.tags.delete") == 2
