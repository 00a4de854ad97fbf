"""A model card as one self-contained HTML file: inline CSS and SVG, no script, no network.

Every piece of text goes through the HTML kit's `esc`, so user fields cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.htmlkit import bar_chart, esc, nav, page, section, table
from loopml.registry.cards.blocks import (
    NOT_PROVIDED,
    UNDEFINED,
    Bars,
    Block,
    Bullets,
    Facts,
    Heading,
    Table,
    Text,
)
from loopml.registry.cards.sections import build_layout

CSS = """
p.text { white-space: pre-wrap; margin: 4px 0 10px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 4px 0 10px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
tr:nth-child(even) td { background: #fbfcfd; }
td.fail { color: var(--bad); font-weight: 600; }
td.pass { color: var(--good); }
.missing { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: -4px 0 10px; }
.row { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 8px 32px; }
"""

_MISSING = (NOT_PROVIDED, UNDEFINED)


def render_html(card: Mapping[str, Any]) -> str:
    """The card dict as a complete HTML document that opens offline."""
    layout = build_layout(card)
    links = nav([(s.anchor, s.title) for s in layout.sections])
    body = [f"<h1>{esc(layout.title)}</h1>", links]
    body += [section(s.anchor, s.title, _blocks(s.blocks)) for s in layout.sections]
    return page(layout.title, "".join(body), css=CSS)


def _blocks(blocks: tuple[Block, ...]) -> str:
    """Blocks in order; a table and the charts after it share one row."""
    out: list[str] = []
    row: list[str] = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        drawn = (
            bar_chart(block.title, block.bars, block.scale)
            if isinstance(block, Bars)
            else _block(block)
        )
        if isinstance(after, Bars) or (row and isinstance(block, Bars)):
            row.append(drawn)
        else:
            out.append(drawn)
        if row and not isinstance(after, Bars):
            out.append(f'<div class="row">{"".join(row)}</div>')
            row = []
    return "".join(out)


def _value(text: str) -> str:
    escaped = esc(text)
    return f'<span class="missing">{escaped}</span>' if text in _MISSING else escaped


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h3>{esc(block.text)}</h3>"
    if isinstance(block, Text):
        return f'<p class="text">{_value(block.text)}</p>'
    if isinstance(block, Facts):
        items = "".join(f"<dt>{esc(k)}</dt><dd>{_value(v)}</dd>" for k, v in block.items)
        return f"<dl>{items}</dl>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>"
    assert isinstance(block, Table)
    rows = ["<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in block.rows]
    note = f'<p class="note">{esc(block.note)}</p>' if block.note else ""
    return table(block.headers, rows) + note


def _td(cell: str) -> str:
    if cell == "FAIL":
        return '<td class="fail">FAIL</td>'
    if cell == "pass":
        return '<td class="pass">pass</td>'
    return f"<td>{_value(cell)}</td>"
