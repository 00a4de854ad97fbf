"""Helpers shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from typer.testing import CliRunner, Result

from loopml.cli import app

Invoke = Callable[..., Result]


def user_error(result: Result, *fragments: str) -> str:
    """Assert `result` is a one-line `error: …` with exit code 2 and return the message."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def run_cli(args: Sequence[str]) -> Result:
    """Invoke without a workspace option (tests of `init` and global options)."""
    return CliRunner().invoke(app, list(args))
