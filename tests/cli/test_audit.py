"""`loopml audit …`: the trail as a table or JSON, and verification after real tampering."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from loopml.sdk import Client
from tests.cli.conftest import Train
from tests.cli.helpers import Invoke, table_rows, user_error


@pytest.fixture
def history(cli: Invoke, trained: Train) -> None:
    """A model registered twice, an alias moved and a principal created."""
    trained()
    trained(alpha=50.0)
    assert cli("models", "alias", "bikes", "staging", "2").exit_code == 0
    assert cli("auth", "principal", "create", "alice", "--role", "approver").exit_code == 0


def tamper(workspace: Path, statement: str) -> None:
    """Edit the workspace's SQLite store behind loopml's back."""
    with sqlite3.connect(workspace / ".loopml" / "loopml.db") as db:
        db.execute(statement)


def test_log_table(cli: Invoke, history: None, client: Client) -> None:
    result = cli("audit", "log")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert [r[0] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    by_action = {r[3]: r for r in rows}
    move = by_action["alias.move"]
    assert move[2] == client.principal.name
    assert move[4] == "model:bikes@staging"
    assert move[5] == "from=null to=2"
    assert by_action["principal.create"][4:] == ["principal:alice", "role=approver"]
    assert by_action["model.register"][5].startswith("run=run:")


def test_log_filter_limit_and_json(cli: Invoke, history: None) -> None:
    events = json.loads(cli("audit", "log", "--object", "model:bikes", "--json").stdout)
    assert [e["action"] for e in events] == [
        "model.create",
        "model.register",
        "model.register",
        "alias.move",
    ]
    assert events[-1]["details"] == {"from": None, "to": 2}
    assert {"seq", "time", "actor", "object", "prev_hash", "hash"} <= set(events[0])
    everything = json.loads(cli("audit", "log", "--json").stdout)
    limited = cli("audit", "log", "--limit", "2")
    assert [r[0] for r in table_rows(limited.stdout)] == [str(e["seq"]) for e in everything[-2:]]
    assert "showing the newest 2 events" in limited.stdout
    assert "showing the newest" not in cli("audit", "log", "-n", str(len(everything))).stdout
    assert cli("audit", "log", "--object", "model:nope").stdout.strip() == (
        "no audit events about model:nope"
    )
    user_error(cli("audit", "log", "--limit", "0"), "--limit must be at least 1")


def test_verify_intact(cli: Invoke, history: None) -> None:
    count = len(json.loads(cli("audit", "log", "--limit", "1000", "--json").stdout))
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"audit trail intact: {count} events"
    assert json.loads(cli("audit", "verify", "--json").stdout) == {
        "ok": True,
        "checked": count,
        "first_bad_seq": None,
        "reason": None,
    }


def test_verify_names_an_edited_event(cli: Invoke, history: None, workspace: Path) -> None:
    events = json.loads(cli("audit", "log", "--json").stdout)
    move = next(e for e in events if e["action"] == "alias.move")
    tamper(workspace, f"UPDATE audit_events SET actor = 'mallory' WHERE seq = {move['seq']}")
    result = cli("audit", "verify")
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert out.splitlines()[0] == (
        f"audit trail BROKEN at event {move['seq']}: event {move['seq']} (alias.move "
        "model:bikes@staging) was edited: its MAC does not match its content under the audit "
        "key (a re-hash without the key, or another key)"
    )
    [row] = table_rows(out)
    assert row[:5] == [str(move["seq"]), row[1], "mallory", "alias.move", "model:bikes@staging"]
    assert f"the {move['seq'] - 1} event(s) before it are intact" in out
    assert result.stderr == ""
    verdict = json.loads(cli("audit", "verify", "--json").stdout)
    assert verdict["ok"] is False and verdict["first_bad_seq"] == move["seq"]


def test_verify_names_a_deleted_event(cli: Invoke, history: None, workspace: Path) -> None:
    tamper(workspace, "DELETE FROM audit_events WHERE seq = 2")
    result = cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("audit trail BROKEN at event 3: ")
    assert "event 2 was deleted" in result.stdout


def test_verify_empty_trail(cli: Invoke) -> None:
    result = cli("audit", "verify")
    assert result.exit_code == 0
    assert result.stdout.strip() == "audit trail intact: 0 events"
    assert cli("audit", "log").stdout.strip() == "no audit events yet"


def test_verify_a_wiped_trail_is_not_intact(cli: Invoke, history: None, workspace: Path) -> None:
    """The attack that used to print "audit trail intact: 0 events"."""
    tamper(workspace, "DELETE FROM audit_events")
    tamper(workspace, "DELETE FROM audit_head")
    result = cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert "the trail was wiped" in result.stdout


def test_rotate_key(
    cli: Invoke, history: None, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = workspace / ".loopml" / "keys" / "audit.key"
    old = key_file.read_text()
    done = cli("audit", "rotate-key", "--json")
    assert done.exit_code == 0, done.output
    rotation = json.loads(done.stdout)
    assert key_file.read_text() != old
    assert (key_file.parent / f"audit.key.{rotation['old_key_id']}").read_text() == old
    assert cli("audit", "verify").exit_code == 0
    last = json.loads(cli("audit", "log", "--json", "-n", "1").stdout)[0]
    assert (last["seq"], last["action"]) == (rotation["seq"], "audit.rotate_key")
    user_error(cli("audit", "rotate-key", "--new-key-env", "LOOPML_NO_SUCH_VAR"), "not set")
    monkeypatch.setenv("SHORT_KEY", "abcd")
    user_error(cli("audit", "rotate-key", "--new-key-env", "SHORT_KEY"), "at least 32")
