"""`loopml` itself: help, version, `init`, global options and error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loopml import __version__
from loopml.cli import run
from loopml.cli.main import LOOP_ORDER
from tests.cli.helpers import MODEL_COMMANDS, Invoke, run_cli, user_error

COMMANDS = [
    ["init"],
    ["data", "add"],
    ["data", "list"],
    ["data", "show"],
    ["data", "diff"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "compare"],
    ["experiments", "list"],
    *(["models", name] for name in MODEL_COMMANDS),
    ["auth", "principal", "create"],
    ["auth", "principal", "list"],
    ["auth", "token", "create"],
    ["auth", "token", "revoke"],
    ["auth", "whoami"],
    ["audit", "log"],
    ["audit", "verify"],
]


def test_help_lists_the_command_groups() -> None:
    result = run_cli(["--help"])
    assert result.exit_code == 0
    groups = ("init", "data", "runs", "experiments", "models", "auth", "audit")
    for name in (*groups, "--workspace", "--token"):
        assert name in result.stdout


def test_help_lists_the_commands_in_the_order_of_the_loop() -> None:
    result = run_cli(["--help"])
    lines = [line.strip("│ ").split(" ")[0] for line in result.stdout.splitlines()]
    listed = [name for name in lines if name in LOOP_ORDER]
    assert listed == list(LOOP_ORDER)


def test_no_arguments_shows_help() -> None:
    result = run_cli([])
    assert "Usage" in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = run_cli([*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: loopml " + " ".join(command) in " ".join(result.stdout.split())
    assert "Example" in result.stdout
    assert "loopml " + " ".join(command) in result.stdout.split("Example", 1)[1]


def test_version() -> None:
    result = run_cli(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"loopml {__version__}"


def test_init_creates_the_workspace_and_store(tmp_path: Path) -> None:
    target = tmp_path / "project"
    result = run_cli(["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "loopml.toml").is_file()
    assert (target / ".loopml" / "loopml.db").is_file()
    assert f"Initialised {target}" in result.stdout
    assert "loopml.toml  created" in result.stdout
    assert "schema up to date" in result.stdout


def test_init_twice_keeps_what_exists(tmp_path: Path) -> None:
    run_cli(["init", str(tmp_path)])
    (tmp_path / "loopml.toml").write_text('store_url = "sqlite:///.loopml/loopml.db"\n')
    result = run_cli(["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Already a workspace" in result.stdout
    assert "loopml.toml  kept" in result.stdout
    assert (tmp_path / "loopml.toml").read_text().startswith("store_url")


def test_init_defaults_to_the_workspace_option_then_the_current_folder(tmp_path: Path) -> None:
    run_cli(["--workspace", str(tmp_path / "a"), "init"])
    assert (tmp_path / "a" / "loopml.toml").is_file()
    run_cli(["init"])  # the fixtures chdir to tmp_path
    assert (tmp_path / "loopml.toml").is_file()


def test_init_honours_store_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "elsewhere.db"
    monkeypatch.setenv("LOOPML_STORE_URL", f"sqlite:///{store}")
    result = run_cli(["init", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert store.is_file()
    assert not (tmp_path / "ws" / ".loopml" / "loopml.db").exists()
    assert str(store) in result.stdout


def test_missing_workspace_folder_is_a_user_error(tmp_path: Path) -> None:
    result = run_cli(["--workspace", str(tmp_path / "nowhere"), "data", "list"])
    user_error(result, "nowhere", "does not exist", "loopml init")


def test_invalid_settings_are_a_user_error(workspace: Path, cli: Invoke) -> None:
    (workspace / "loopml.toml").write_text("store_url = [broken\n")
    user_error(cli("data", "list"), "loopml.toml", "not valid TOML")


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli(["dataz"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_run_entry_point_turns_loopml_errors_into_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loopml.toml").write_text("")
    monkeypatch.setattr(sys, "argv", ["loopml", "-w", str(tmp_path), "data", "show", "nope"])
    with pytest.raises(SystemExit) as exit_info:
        run()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no dataset version dataset:nope")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out


def test_commands_outside_a_workspace_do_not_create_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOPML_STORE_URL", raising=False)
    result = run_cli(["runs", "list"])
    user_error(result, "no loopml workspace", "loopml init")
    assert not (tmp_path / ".loopml").exists()
    assert not (tmp_path / "loopml.toml").exists()
