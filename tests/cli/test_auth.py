"""`loopml auth …`: principals, tokens shown once, acting as someone, whoami."""

from __future__ import annotations

import json
import re

from loopml.sdk import Client
from loopml.store.principal import os_user
from tests.cli.helpers import Invoke, field, table_rows, user_error


def test_create_and_list_principals(cli: Invoke) -> None:
    created = cli("auth", "principal", "create", "alice", "--role", "Approver")
    assert created.exit_code == 0, created.output
    assert created.stdout.splitlines() == [
        "created principal alice (approver)",
        "next: loopml auth token create alice",
    ]
    cli("auth", "principal", "create", "vic", "--role", "viewer")
    rows = table_rows(cli("auth", "principal", "list").stdout)
    assert [r[:3] for r in rows] == [["alice", "approver", "active"], ["vic", "viewer", "active"]]
    assert rows[0][4] == field(cli("auth", "whoami").stdout, "principal")
    listed = json.loads(cli("auth", "principal", "list", "--json").stdout)
    assert [(p["name"], p["role"], p["disabled"]) for p in listed] == [
        ("alice", "approver", False),
        ("vic", "viewer", False),
    ]
    assert listed[0]["id"].startswith("pr-")


def test_principal_errors(cli: Invoke) -> None:
    assert "no principals yet" in cli("auth", "principal", "list").stdout
    user_error(cli("auth", "principal", "create", "eve", "--role", "king"), "role must be one of")
    cli("auth", "principal", "create", "eve", "--role", "editor")
    user_error(cli("auth", "principal", "create", "eve", "--role", "admin"), "already exists")
    user_error(cli("auth", "token", "create", "mallory"), "no principal 'mallory'")


def test_token_is_printed_once_and_works(cli: Invoke, client: Client) -> None:
    cli("auth", "principal", "create", "alice", "--role", "approver")
    result = cli("auth", "token", "create", "alice", "--label", "laptop", "--expires-in-days", "30")
    assert result.exit_code == 0, result.output
    out = result.stdout
    tokens = re.findall(r"lml_[A-Za-z0-9_\-]+", out)
    assert len(tokens) == 1
    token = tokens[0]
    assert f"\n{token}\n" in out  # alone on its line, easy to copy
    token_id = re.search(r"created token (tok-[0-9a-f]+) for alice \(approver\)", out)
    assert token_id, out
    assert "cannot be shown again" in out
    assert field(out, "label") == "laptop"
    assert field(out, "expires").startswith("in 30 day(s), ")
    assert f"loopml auth token revoke {token_id.group(1)}" in out

    me = cli("auth", "whoami", token=token)
    assert me.exit_code == 0, me.output
    assert field(me.stdout, "principal") == "alice"
    assert field(me.stdout, "role") == "approver"
    assert field(me.stdout, "via").startswith("API token")
    assert json.loads(cli("--token", token, "auth", "whoami", "--json").stdout) == {
        "name": "alice",
        "role": "approver",
        "authenticated_by": "token",
        "permissions": ["read", "write", "approve"],
    }
    # nothing shows it again: not the listing, not the audit trail
    for shown in (cli("auth", "principal", "list", "--json"), cli("audit", "log", "--json")):
        assert token not in shown.stdout
    assert client.models.identity.authenticate(token).name == "alice"


def test_token_json_and_revoke(cli: Invoke) -> None:
    cli("auth", "principal", "create", "ci", "--role", "editor")
    result = cli("auth", "token", "create", "ci", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["principal"] == "ci" and created["role"] == "editor"
    assert created["token"].startswith("lml_") and created["token_id"].startswith("tok-")
    assert "cannot be shown again" in result.stderr
    assert field(cli("auth", "whoami", token=created["token"]).stdout, "principal") == "ci"

    revoked = cli("auth", "token", "revoke", created["token_id"])
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.strip() == f"revoked token {created['token_id']}"
    user_error(cli("auth", "whoami", token=created["token"]), "unknown or revoked")
    user_error(cli("auth", "token", "revoke", "tok-00000000"), "no token tok-00000000")


def test_whoami_without_a_token_is_the_local_admin(cli: Invoke, client: Client) -> None:
    out = cli("auth", "whoami").stdout
    assert field(out, "principal") == client.principal.name
    assert client.principal.name == f"local:{os_user()}"
    assert field(out, "role") == "admin"
    assert field(out, "via").startswith("no token: the operating-system user, unauthenticated")
    assert field(out, "may") == "read, write, approve, admin"


def test_only_admins_manage_identities(cli: Invoke) -> None:
    cli("auth", "principal", "create", "erin", "--role", "editor")
    token = json.loads(cli("auth", "token", "create", "erin", "--json").stdout)["token"]
    user_error(
        cli("auth", "principal", "create", "eve", "--role", "admin", token=token),
        "erin (editor) may not create principals",
    )
    user_error(cli("auth", "token", "create", "erin", token=token), "may not create tokens")


def test_bad_tokens_and_expiry(cli: Invoke) -> None:
    user_error(cli("--token", "secret", "auth", "whoami"), "malformed", "lml_")
    user_error(cli("auth", "whoami", token="lml_nope"), "unknown or revoked")
    cli("auth", "principal", "create", "alice", "--role", "viewer")
    user_error(
        cli("auth", "token", "create", "alice", "--expires-in-days", "0"),
        "--expires-in-days must be positive",
    )


def test_the_token_option_wins_over_the_environment(cli: Invoke) -> None:
    tokens = {}
    for name in ("alice", "bob"):
        cli("auth", "principal", "create", name, "--role", "editor")
        tokens[name] = json.loads(cli("auth", "token", "create", name, "--json").stdout)["token"]
    result = cli("--token", tokens["alice"], "auth", "whoami", token=tokens["bob"])
    assert field(result.stdout, "principal") == "alice"
    assert field(cli("auth", "whoami", token=tokens["bob"]).stdout, "principal") == "bob"
