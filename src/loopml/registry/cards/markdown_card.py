"""A model card as GitHub-flavoured Markdown.

`<` and `>` in user text become `&lt;` and `&gt;`, so a viewer that renders inline HTML
shows an injected tag as text; `|` is escaped in table cells. Bar charts are left out: the tables
beside them hold the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.registry.cards.blocks import Bars, Block, Bullets, Facts, Heading, Table, Text
from loopml.registry.cards.sections import build_layout


def render_markdown(card: Mapping[str, Any]) -> str:
    """The card dict as one Markdown document."""
    layout = build_layout(card)
    lines = [f"# {_inline(layout.title)}", ""]
    for section in layout.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _block(block)
    return "\n".join(lines).rstrip() + "\n"


def _escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _inline(text: str) -> str:
    """One line of escaped text."""
    return _escape(" ".join(text.split()))


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|") or " "


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"### {_inline(block.text)}", ""]
    if isinstance(block, Text):
        return [_escape(block.text), ""]
    if isinstance(block, Facts):
        return [f"- **{_inline(k)}:** {_inline(v)}" for k, v in block.items] + [""]
    if isinstance(block, Bullets):
        return [f"- {_inline(item)}" for item in block.items] + [""]
    if isinstance(block, Table):
        lines = [
            "| " + " | ".join(_cell(h) for h in block.headers) + " |",
            "|" + "---|" * len(block.headers),
            *("| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows),
            "",
        ]
        return lines + ([f"_{_inline(block.note)}_", ""] if block.note else [])
    assert isinstance(block, Bars)
    return []
