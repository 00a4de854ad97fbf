"""The frame every page shares: document head, styles, navigation, sections and tables."""

from __future__ import annotations

from collections.abc import Sequence

from loopml.htmlkit.charts import CSS as CHART_CSS
from loopml.htmlkit.text import esc

CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec;
        --soft: #f5f7fa; --accent: #2f6fb0; --bad: #b42318; --bad-bg: #fdecea;
        --good: #1e7b34; --good-bg: #e6f4ea; --warn: #8a5a00; --warn-bg: #fff4d6;
        --ref: #9fb3c8; --cur: #d9480f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { color: var(--accent); margin-right: 12px; text-decoration: none; }
.table-wrap { overflow-x: auto; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
@media print { nav { display: none; } main { padding: 0; } }
"""


def page(title: str, body: str, *, css: str = "", max_width: int = 1040) -> str:
    """A complete HTML document that opens offline: the kit's styles, then the page's own."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}main {{ max-width: {max_width}px; }}"
        f"{CHART_CSS}{css}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def nav(links: Sequence[tuple[str, str]]) -> str:
    """In-page links, as (anchor, label) pairs."""
    return (
        "<nav>" + "".join(f'<a href="#{esc(a)}">{esc(label)}</a>' for a, label in links) + "</nav>"
    )


def section(anchor: str, title: str, body: str) -> str:
    """A titled section that `nav` can link to."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def table(headers: Sequence[str], rows: Sequence[str], *, css_class: str = "") -> str:
    """A scrollable table: escaped header texts, then rows given as `<tr>` markup."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    css = f' class="{esc(css_class)}"' if css_class else ""
    return f'<div class="table-wrap"><table{css}><tr>{head}</tr>{"".join(rows)}</table></div>'
