"""The audit chain: every mutation recorded; any edit, deletion, insertion or reorder found."""

from __future__ import annotations

import json
import threading

import pandas as pd
from sqlalchemy import delete, select, text, update

from loopml.governance import list_events, verify_chain
from loopml.sdk import Client
from loopml.store.schema import audit_events


def _activity(client: Client) -> None:
    with client.start_run("exp", capture_code=False) as run:
        run.log_metric("loss", 1.0)
    with client.start_run("exp", capture_code=False) as run:
        run.log_param("a", 1)


def test_mutations_are_recorded_in_order(any_client: Client) -> None:
    _activity(any_client)
    events = list_events(any_client.stores.engine)
    actions = [e.action for e in events]
    assert actions == ["experiment.create", "run.create", "run.end", "run.create", "run.end"]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(e.actor == any_client.settings.user for e in events)
    assert events[2].details == {"status": "FINISHED"}
    assert verify_chain(any_client.stores.engine).ok


def test_filter_by_object(client: Client) -> None:
    _activity(client)
    first_run = list_events(client.stores.engine)[1].object
    only = list_events(client.stores.engine, obj=first_run)
    assert [e.action for e in only] == ["run.create", "run.end"]


def _tamper(client: Client, statement: str, **params: object) -> None:
    with client.stores.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_edited_event_is_named(any_client: Client) -> None:
    _activity(any_client)
    engine = any_client.stores.engine
    with engine.begin() as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.seq == 3).values(details={"status": "FAILED"})
        )
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 3
    assert "edited" in (result.reason or "")


def test_edited_actor_is_named(client: Client) -> None:
    _activity(client)
    _tamper(client, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    result = verify_chain(client.stores.engine)
    assert result.first_bad_seq == 2 and "edited" in (result.reason or "")


def test_deleted_event_is_named(any_client: Client) -> None:
    _activity(any_client)
    with any_client.stores.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == 2))
    result = verify_chain(any_client.stores.engine)
    assert not result.ok and result.first_bad_seq == 3
    assert "deleted" in (result.reason or "")


def test_deleted_tail_is_detected(client: Client) -> None:
    _activity(client)
    with client.stores.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == 5))
    result = verify_chain(client.stores.engine)
    assert not result.ok and "deleted" in (result.reason or "")


def test_inserted_event_is_named(client: Client) -> None:
    _activity(client)
    engine = client.stores.engine
    with engine.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(select(audit_events).order_by(audit_events.c.seq))
        ]
        conn.execute(delete(audit_events))
        forged = dict(rows[1], actor="mallory", action="run.delete")
        renumbered = [*rows[:2], forged, *rows[2:]]
        for seq, row in enumerate(renumbered, start=1):
            conn.execute(audit_events.insert().values(**dict(row, seq=seq)))
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 3


def test_reordered_events_are_named(client: Client) -> None:
    _activity(client)
    engine = client.stores.engine
    with engine.begin() as conn:
        rows = {r.seq: dict(r._mapping) for r in conn.execute(select(audit_events))}
        for seq, source in ((2, 4), (4, 2)):
            values = {k: v for k, v in rows[source].items() if k != "seq"}
            conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(**values))
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 2


def test_dataset_logging_is_audited(client: Client) -> None:
    client.log_dataset("d", pd.DataFrame({"x": [1, 2]}))
    events = list_events(client.stores.engine, obj="dataset:d")
    assert [e.action for e in events] == ["dataset.log"]
    assert json.dumps(events[0].details)


def test_concurrent_appends_keep_one_chain(any_client: Client) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                with any_client.start_run("exp", capture_code=False):
                    pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify_chain(any_client.stores.engine)
    assert result.ok and result.checked == 1 + 4 * 5 * 2
