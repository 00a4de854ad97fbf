"""A model card as one self-contained HTML file: inline CSS and SVG, no script, no network.

Every piece of text goes through `html.escape`, so user fields cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

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
from loopml.registry.cards.charts import bar_chart_svg
from loopml.registry.cards.sections import build_layout

CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec;
        --soft: #f5f7fa; --accent: #2f6fb0; --bad: #b42318; --good: #1e7b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { color: var(--accent); margin-right: 12px; text-decoration: none; }
p.text { white-space: pre-wrap; margin: 4px 0 10px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 4px 0 10px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
tr:nth-child(even) td { background: #fbfcfd; }
td.fail { color: var(--bad); font-weight: 600; }
td.pass { color: var(--good); }
.missing { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 12px; margin: -4px 0 10px; }
.row { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 8px 32px; }
svg { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg .bar { fill: var(--accent); }
svg .undefined { fill: var(--muted); font-style: italic; }
svg .chart-title { font-weight: 600; }
@media print { nav { display: none; } main { padding: 0; } }
"""

_MISSING = (NOT_PROVIDED, UNDEFINED)


def render_html(card: Mapping[str, Any]) -> str:
    """The card dict as a complete HTML document that opens offline."""
    layout = build_layout(card)
    links = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in layout.sections)
    body = [f"<h1>{escape(layout.title)}</h1>", f"<nav>{links}</nav>"]
    for section in layout.sections:
        body.append(f'<section id="{section.anchor}"><h2>{escape(section.title)}</h2>')
        body.append(_blocks(section.blocks))
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(layout.title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _blocks(blocks: tuple[Block, ...]) -> str:
    """Blocks in order; a table and the charts after it share one row."""
    out: list[str] = []
    row: list[str] = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        drawn = bar_chart_svg(block) if isinstance(block, Bars) else _block(block)
        if isinstance(after, Bars) or (row and isinstance(block, Bars)):
            row.append(drawn)
        else:
            out.append(drawn)
        if row and not isinstance(after, Bars):
            out.append(f'<div class="row">{"".join(row)}</div>')
            row = []
    return "".join(out)


def _value(text: str) -> str:
    escaped = escape(text)
    return f'<span class="missing">{escaped}</span>' if text in _MISSING else escaped


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Text):
        return f'<p class="text">{_value(block.text)}</p>'
    if isinstance(block, Facts):
        items = "".join(f"<dt>{escape(k)}</dt><dd>{_value(v)}</dd>" for k, v in block.items)
        return f"<dl>{items}</dl>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    assert isinstance(block, Table)
    head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
    rows = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in block.rows)
    note = f'<p class="note">{escape(block.note)}</p>' if block.note else ""
    return f'<div class="table-wrap"><table><tr>{head}</tr>{rows}</table></div>{note}'


def _td(cell: str) -> str:
    if cell == "FAIL":
        return '<td class="fail">FAIL</td>'
    if cell == "pass":
        return '<td class="pass">pass</td>'
    return f"<td>{_value(cell)}</td>"
