"""The audit trail: every mutation recorded; each way of rewriting or erasing it, tried as
an attacker with write access to the database (but not to the key) would, is detected."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import delete, select, text, update

from loopml.errors import AuditChainError, ConfigError
from loopml.governance import append_event, list_events, verify_chain
from loopml.governance.audit import GENESIS, VerifyResult, event_mac
from loopml.sdk import Client
from loopml.store.schema import audit_events, audit_head
from loopml.store.seal import read_key_file, write_key_file

STORES = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def store_client(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Client:
    """The same attack on SQLite and on PostgreSQL."""
    return make_client(request.param)


def _activity(client: Client) -> None:
    with client.start_run("exp", capture_code=False) as run:
        run.log_metric("loss", 1.0)
    with client.start_run("exp", capture_code=False) as run:
        run.log_param("a", 1)


def _rows(client: Client) -> list[dict[str, Any]]:
    with client.stores.engine.connect() as conn:
        query = select(audit_events).order_by(audit_events.c.seq)
        return [dict(r._mapping) for r in conn.execute(query)]


def _sql(client: Client, *statements: str) -> None:
    with client.stores.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _rewrite(client: Client, rows: list[dict[str, Any]], mac: Callable[..., str]) -> None:
    """Replace the whole trail by `rows`, renumbered and chained with `mac`, head included:
    the most an attacker can do with the database alone."""
    prev = GENESIS
    with client.stores.engine.begin() as conn:
        conn.execute(delete(audit_events))
        for seq, row in enumerate(rows, start=1):
            content = (row["time"], row["actor"], row["action"], row["object"], row["details"])
            digest = mac(seq, *content, prev)
            conn.execute(
                audit_events.insert().values(**dict(row, seq=seq, prev_hash=prev, hash=digest))
            )
            prev = digest
        conn.execute(update(audit_head).values(seq=len(rows), hash=prev))


def _unkeyed(*content: Any) -> str:
    """The chain hash an attacker can compute without the key (plain SHA-256)."""
    seq, at, actor, action, obj, details, prev = content
    body = json.dumps(
        [seq, repr(at), actor, action, obj, details, prev],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _broken(client: Client, *words: str) -> VerifyResult:
    result = verify_chain(client.stores.engine)
    assert not result.ok, result
    for word in words:
        assert word in (result.reason or ""), result.reason
    return result


# ---------------------------------------------------------------------- recording
def test_mutations_are_recorded_in_order(any_client: Client) -> None:
    _activity(any_client)
    events = list_events(any_client.stores.engine)
    actions = [e.action for e in events]
    assert actions == ["experiment.create", "run.create", "run.end", "run.create", "run.end"]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(e.actor == any_client.principal.name for e in events)
    assert any_client.principal.name.startswith("local:")
    assert events[2].details["status"] == "FINISHED"
    assert (events[2].details["metrics"], events[2].details["metric_points"]) == (1, 1)
    assert (events[4].details["params"], events[4].details["metric_points"]) == (1, 0)
    assert verify_chain(any_client.stores.engine).ok


def test_run_end_digest_covers_everything_the_run_logged(client: Client, tmp_path: Any) -> None:
    def logged(value: float, tag: str) -> dict[str, Any]:
        with client.start_run("exp", capture_code=False) as run:
            run.log_params({"alpha": 1, "depth": 3})
            run.set_tags({"team": tag})
            for step in range(50):
                run.log_metric("loss", value / (step + 1), step=step)
            run.log_text("notes", "notes.txt")
        return list_events(client.stores.engine, obj=run.uri)[-1].details

    first, same, other_tag = logged(1.0, "a"), logged(1.0, "a"), logged(1.0, "b")
    assert first["digest"] == same["digest"] != other_tag["digest"]
    assert {k: first[k] for k in ("params", "tags", "metrics", "metric_points", "artifacts")} == {
        "params": 2,
        "tags": 1,
        "metrics": 1,
        "metric_points": 50,
        "artifacts": 1,
    }
    assert logged(2.0, "a")["digest"] != first["digest"]


def test_writes_after_a_run_ended_get_their_own_events(client: Client, tmp_path: Any) -> None:
    with client.start_run("exp", capture_code=False) as run:
        run.log_metric("loss", 1.0)
    client.tracking.set_tags(run.id, {"verdict": "good"})
    client.tracking.log_params(run.id, {"late": 1})
    client.tracking.log_artifact_bytes(run.id, b"{}", "late.json")
    late = [e for e in list_events(client.stores.engine, obj=run.uri) if e.action == "run.update"]
    assert [sorted(k for k in e.details if k != "digest") for e in late] == [
        ["tags"],
        ["params"],
        ["artifacts"],
    ]
    assert late[0].details["tags"] == ["verdict"] and late[1].details["params"] == ["late"]
    assert late[2].details["artifacts"][0].startswith("late.json:")


def test_filter_by_object(client: Client) -> None:
    _activity(client)
    first_run = list_events(client.stores.engine)[1].object
    only = list_events(client.stores.engine, obj=first_run)
    assert [e.action for e in only] == ["run.create", "run.end"]


def test_dataset_logging_is_audited(client: Client) -> None:
    client.log_dataset("d", pd.DataFrame({"x": [1, 2]}))
    events = list_events(client.stores.engine, obj="dataset:d")
    assert [e.action for e in events] == ["dataset.log"]
    assert json.dumps(events[0].details)


def test_the_key_lives_outside_the_store_readable_by_its_owner_only(client: Client) -> None:
    _activity(client)
    seal = client.stores.seal
    key = read_key_file(seal.key_file)
    assert len(key) == 32 and stat.S_IMODE(seal.key_file.stat().st_mode) == 0o600
    assert seal.key_file.parent == client.settings.root / ".loopml" / "keys"
    with client.stores.engine.connect() as conn:
        dump = " ".join(str(v) for r in conn.execute(select(audit_events)) for v in r)
    assert key.hex() not in dump
    # the newest event is checkpointed outside the store
    assert seal.checkpoints()[-1].seq == 5


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
    assert any_client.stores.seal.checkpoints()[-1].seq == result.checked


@pytest.mark.parametrize(
    "details",
    [
        {"status": "FINISHED", "params": 5, "ok": True, "parent": None},
        {"pair": (1, 2), "share": 0.1, "nested": {"k": [1]}, 7: "an int key"},
    ],
)
def test_an_appended_event_holds_what_the_store_keeps(
    store_client: Client, details: dict[Any, Any]
) -> None:
    """Plain details are copied, others decoded from the stored JSON: either way the event
    returned, the row read back and the MAC agree."""
    with store_client.stores.engine.begin() as conn:
        event = append_event(conn, "someone", "thing.happen", "thing:x", details)
    assert event.details is not details
    assert event.details == json.loads(json.dumps(details, default=str))
    assert _rows(store_client)[-1]["details"] == event.details
    assert verify_chain(store_client.stores.engine).ok


def test_a_rolled_back_change_leaves_no_checkpoint(store_client: Client) -> None:
    _activity(store_client)
    with pytest.raises(RuntimeError), store_client.stores.engine.begin() as conn:
        append_event(conn, "someone", "thing.happen", "thing:x")
        raise RuntimeError("the change fails after its event was appended")
    assert store_client.stores.seal.checkpoints()[-1].seq == 5
    assert verify_chain(store_client.stores.engine).ok


# ---------------------------------------------------------------------- the attacks
def test_attack_edit_an_event(store_client: Client) -> None:
    _activity(store_client)
    with store_client.stores.engine.begin() as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.seq == 3).values(details={"status": "OK"})
        )
    assert _broken(store_client, "edited").first_bad_seq == 3


def test_attack_edit_the_actor(store_client: Client) -> None:
    _activity(store_client)
    _sql(store_client, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    assert _broken(store_client, "edited").first_bad_seq == 2


def test_attack_insert_an_event(store_client: Client) -> None:
    _activity(store_client)
    rows = _rows(store_client)
    forged = dict(rows[1], actor="mallory", action="run.delete")
    with store_client.stores.engine.begin() as conn:
        conn.execute(delete(audit_events))
        for seq, row in enumerate([*rows[:2], forged, *rows[2:]], start=1):
            conn.execute(audit_events.insert().values(**dict(row, seq=seq)))
    assert _broken(store_client).first_bad_seq == 3


def test_attack_delete_a_middle_event(store_client: Client) -> None:
    _activity(store_client)
    _sql(store_client, "DELETE FROM audit_events WHERE seq = 2")
    assert _broken(store_client, "deleted").first_bad_seq == 3


def test_attack_reorder_events(store_client: Client) -> None:
    _activity(store_client)
    rows = {r["seq"]: r for r in _rows(store_client)}
    with store_client.stores.engine.begin() as conn:
        for seq, source in ((2, 4), (4, 2)):
            values = {k: v for k, v in rows[source].items() if k != "seq"}
            conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(**values))
    assert _broken(store_client).first_bad_seq == 2


def test_attack_delete_the_tail(store_client: Client) -> None:
    _activity(store_client)
    _sql(store_client, "DELETE FROM audit_events WHERE seq >= 4")
    _broken(store_client, "deleted")


def test_attack_delete_the_tail_and_fix_the_head(store_client: Client) -> None:
    _activity(store_client)
    third = _rows(store_client)[2]
    _sql(
        store_client,
        "DELETE FROM audit_events WHERE seq >= 4",
        f"UPDATE audit_head SET seq = 3, hash = '{third['hash']}'",
    )
    result = _broken(store_client, "checkpointed outside the store", "deleted from its end")
    assert result.first_bad_seq == 5
    # the trail refuses to grow on a cut: the next change fails and says why
    with pytest.raises(AuditChainError, match="events were deleted"):
        _activity(store_client)


def test_attack_forged_append_with_the_head_updated(store_client: Client) -> None:
    _activity(store_client)
    last = _rows(store_client)[-1]
    forged = dict(last, seq=6, actor="mallory", action="alias.move", prev_hash=last["hash"])
    forged["hash"] = _unkeyed(6, forged["time"], "mallory", "alias.move", last["object"], {}, "")
    with store_client.stores.engine.begin() as conn:
        conn.execute(audit_events.insert().values(**forged))
        conn.execute(update(audit_head).values(seq=6, hash=forged["hash"]))
    assert _broken(store_client, "edited").first_bad_seq == 6


def test_attack_forged_append_with_a_mac_under_a_guessed_key(store_client: Client) -> None:
    _activity(store_client)
    rows = _rows(store_client)
    guess = secrets.token_bytes(32)
    extra = dict(rows[-1], actor="mallory", action="alias.move")

    def mac(*content: Any) -> str:
        return event_mac(guess, *content)

    # keep the real MACs of events 1-5 and chain a sixth one under the guessed key
    prev = rows[-1]["hash"]
    digest = mac(6, extra["time"], "mallory", "alias.move", extra["object"], {}, prev)
    with store_client.stores.engine.begin() as conn:
        conn.execute(
            audit_events.insert().values(
                **dict(extra, seq=6, details={}, prev_hash=prev, hash=digest)
            )
        )
        conn.execute(update(audit_head).values(seq=6, hash=digest))
    assert _broken(store_client, "edited").first_bad_seq == 6


def test_attack_delete_the_head(store_client: Client) -> None:
    _activity(store_client)
    _sql(store_client, "DELETE FROM audit_head")
    _broken(store_client, "head row", "deleted")
    with pytest.raises(AuditChainError, match="head row is missing"):
        _activity(store_client)


def test_attack_wipe_both_tables(store_client: Client) -> None:
    _activity(store_client)
    _sql(store_client, "DELETE FROM audit_events", "DELETE FROM audit_head")
    result = _broken(store_client, "wiped")
    assert result.checked == 0 and result.first_bad_seq == 5
    with pytest.raises(AuditChainError, match="wiped"):
        _activity(store_client)


def test_attack_wipe_the_events_and_reset_the_head(store_client: Client) -> None:
    _activity(store_client)
    _sql(
        store_client,
        "DELETE FROM audit_events",
        f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}'",
    )
    assert _broken(store_client, "wiped").checked == 0


def test_attack_consistent_rehash_without_the_key(store_client: Client) -> None:
    _activity(store_client)
    rows = _rows(store_client)
    edited = [rows[0], dict(rows[1], actor="mallory"), *rows[3:]]  # an edit and a deletion
    _rewrite(store_client, edited, _unkeyed)
    assert _broken(store_client, "edited").first_bad_seq == 1


def test_attack_consistent_rehash_under_a_key_of_the_attackers(store_client: Client) -> None:
    _activity(store_client)
    rows = _rows(store_client)
    theirs = secrets.token_bytes(32)
    _rewrite(store_client, rows[:3], lambda *c: event_mac(theirs, *c))
    assert _broken(store_client, "edited").first_bad_seq == 1


def test_attack_key_swap(store_client: Client) -> None:
    """Even one who can replace the key file (and re-MAC the rows under the new key) is
    caught by the checkpoints, written under the old key."""
    _activity(store_client)
    rows = _rows(store_client)
    seal = store_client.stores.seal
    theirs = secrets.token_bytes(32)
    _rewrite(store_client, rows[:3], lambda *c: event_mac(theirs, *c))
    write_key_file(seal.key_file, theirs, replace=True)
    result = _broken(store_client, "key was replaced")
    assert result.first_bad_seq == 5


def test_attack_restore_an_old_backup(store_client: Client) -> None:
    """An older copy of the trail (a backup) restored over the newer one."""
    _activity(store_client)
    backup = _rows(store_client)
    with store_client.start_run("exp", capture_code=False):
        pass  # two more events: run.create, run.end
    _rewrite(store_client, [], _unkeyed)
    with store_client.stores.engine.begin() as conn:
        for row in backup:
            conn.execute(audit_events.insert().values(**row))
        conn.execute(update(audit_head).values(seq=5, hash=backup[-1]["hash"]))
    assert _broken(store_client, "deleted from its end").first_bad_seq == 7


def test_attack_remove_the_key_file(store_client: Client) -> None:
    """A lost or removed key is never silently replaced by a new one."""
    _activity(store_client)
    store_client.stores.seal.key_file.unlink()
    other = Client(store_client.settings)
    try:
        with pytest.raises(ConfigError, match=r"key file .* is missing"):
            verify_chain(other.stores.engine)
        with pytest.raises(ConfigError, match="never replaces a lost key"):
            _activity(other)
    finally:
        other.close()


def test_a_key_readable_by_others_is_refused(client: Client) -> None:
    _activity(client)
    key_file = client.stores.seal.key_file
    os.chmod(key_file, 0o644)
    other = Client(client.settings)
    try:
        with pytest.raises(ConfigError, match="chmod 600"):
            verify_chain(other.stores.engine)
    finally:
        other.close()
