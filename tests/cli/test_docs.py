"""docs/cli.md documents every command and every option the app has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.main import get_command

from loopml.cli import app
from tests.cli.helpers import MODEL_COMMANDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, object]]:
    children = getattr(command, "commands", None)
    if children is None:
        yield "loopml " + " ".join(path), command
        return
    for name, child in children.items():
        yield from _commands(child, (*path, name))


def _sections() -> dict[str, str]:
    """`loopml data add` → the text of its `## ...` section."""
    parts = re.split(r"^## ", DOC.read_text(), flags=re.MULTILINE)
    return {part.split("\n", 1)[0].strip("` "): part for part in parts[1:]}


def _long_options(command: object) -> list[str]:
    names = []
    for param in getattr(command, "params", []):
        names += [o for o in getattr(param, "opts", []) if o.startswith("--") and o != "--help"]
    return names


COMMANDS = dict(_commands(get_command(app)))


def test_the_app_has_the_commands_the_docs_promise() -> None:
    assert set(COMMANDS) >= {
        "loopml init",
        "loopml data add",
        "loopml data list",
        "loopml data show",
        "loopml data diff",
        "loopml data download",
        "loopml runs list",
        "loopml runs show",
        "loopml runs compare",
        "loopml experiments list",
        *(f"loopml models {name}" for name in MODEL_COMMANDS),
        "loopml auth principal create",
        "loopml auth principal list",
        "loopml auth token create",
        "loopml auth token revoke",
        "loopml auth whoami",
        "loopml audit log",
        "loopml audit verify",
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_section_with_its_options_and_an_example(name: str) -> None:
    sections = _sections()
    assert name in sections, f"docs/cli.md has no '## `{name}`' section"
    text = sections[name]
    for option in _long_options(COMMANDS[name]):
        assert option in text, f"{option} of `{name}` is not documented"
    assert f"$ {name}" in text, f"`{name}` has no example"


def test_global_options_are_documented() -> None:
    text = _sections()["Global options"]
    for option in _long_options(get_command(app)):
        if option not in ("--install-completion", "--show-completion"):
            assert option in text
