"""Deleting and restoring runs: soft, audited, hidden from the default searches, refused
to viewers; and experiment tags."""

from __future__ import annotations

import pytest

from loopml import NotFoundError, PermissionDeniedError, ValidationError
from loopml.sdk import Client
from loopml.store.principal import FixedActor, Principal


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def backend_client(request: pytest.FixtureRequest, make_client: object) -> Client:
    made: Client = make_client(request.param)  # type: ignore[operator]
    return made


def test_a_deleted_run_leaves_searches_and_comes_back_whole(backend_client: Client) -> None:
    tracking = backend_client.tracking
    kept = tracking.create_run("life", "kept", capture=False)
    gone = tracking.create_run("life", "gone", capture=False)
    tracking.log_params(gone, {"alpha": 1})
    tracking.end_run(gone, "FINISHED")

    assert tracking.delete_run(gone) is True
    assert tracking.delete_run(gone) is False  # deleting again changes nothing

    assert [r.id for r in tracking.search_runs("life")] == [kept]
    assert [r.id for r in tracking.search_runs("life", view="deleted")] == [gone]
    assert {r.id for r in tracking.search_runs("life", view="all")} == {kept, gone}
    assert [r.id for r in tracking.search_runs("life", filter="params.alpha = '1'")] == []
    record = tracking.get_run(gone)  # still readable by id, marked
    assert record.deleted_at is not None and record.params == {"alpha": "1"}

    assert tracking.restore_run(gone) is True
    assert tracking.restore_run(gone) is False
    assert {r.id for r in tracking.search_runs("life")} == {kept, gone}
    assert tracking.get_run(gone).deleted_at is None
    events = [e.action for e in backend_client.audit_events(max_results=50)]
    assert "run.delete" in events and "run.restore" in events


def test_an_unknown_view_or_run_is_refused(client: Client) -> None:
    with pytest.raises(ValidationError, match="run view 'gone'"):
        client.tracking.search_runs(view="gone")
    with pytest.raises(NotFoundError, match="no run run-00000000"):
        client.tracking.delete_run("run-00000000")


def test_a_viewer_cannot_delete_restore_or_tag(client: Client) -> None:
    tracking = client.tracking
    run_id = tracking.create_run("life", capture=False)
    experiment_id = tracking.experiment_id("life")
    client.stores.identity = FixedActor(Principal("vera", "viewer"))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        tracking.delete_run(run_id)
    with pytest.raises(PermissionDeniedError, match="viewer"):
        tracking.restore_run(run_id)
    with pytest.raises(PermissionDeniedError, match="viewer"):
        tracking.set_experiment_tags(experiment_id, {"team": "x"})
    assert [r.id for r in tracking.search_runs("life")] == [run_id]  # nothing changed
    assert tracking.experiment_tags(experiment_id) == {}


def test_experiment_tags_are_set_and_overwritten(backend_client: Client) -> None:
    tracking = backend_client.tracking
    experiment_id = tracking.experiment_id("tagged")
    tracking.set_experiment_tags(experiment_id, {"team": "a", "note": "first"})
    tracking.set_experiment_tags(experiment_id, {"team": "b"})
    assert tracking.experiment_tags(experiment_id) == {"note": "first", "team": "b"}
    with pytest.raises(ValidationError):
        tracking.set_experiment_tags(experiment_id, {"bad key!": "x"})
