"""A monitor result as one self-contained HTML page: inline CSS and SVG, no script, no network.

The page holds aggregates only (statistics, histogram counts, metrics), never rows, so a
report on a window of a million rows stays a few hundred KB and opens at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from loopml.monitoring.report.columns import column_table_section, distributions_section
from loopml.monitoring.report.summary import (
    alerts_section,
    latency_section,
    performance_section,
    summary_section,
)
from loopml.monitoring.report.trends import trends_section
from loopml.monitoring.report.values import MISSING, esc, when
from loopml.monitoring.results import WindowResult

CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec;
        --soft: #f5f7fa; --accent: #2f6fb0; --bad: #b42318; --bad-bg: #fdecea;
        --good: #1e7b34; --good-bg: #e6f4ea; --warn: #8a5a00; --warn-bg: #fff4d6;
        --ref: #9fb3c8; --cur: #d9480f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { color: var(--accent); margin-right: 12px; text-decoration: none; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0 16px;
          margin: 8px 0 0; font-size: 13px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px;
        padding: 10px 14px; background: var(--soft); }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
               color: var(--muted); }
.card .value { font-size: 20px; font-weight: 650; }
.card .detail { font-size: 13px; color: var(--muted); }
.card.drift { border-left-color: var(--bad); background: var(--bad-bg); }
.card.drift .value { color: var(--bad); }
.card.nodrift { border-left-color: var(--good); background: var(--good-bg); }
.card.nodrift .value { color: var(--good); }
.card.untested { border-left-color: var(--warn); background: var(--warn-bg); }
.card.untested .value { color: var(--warn); }
.notice { border-radius: 6px; padding: 8px 12px; margin: 12px 0; background: var(--soft); }
.notice.drift { background: var(--bad-bg); }
.notice.untested { background: var(--warn-bg); }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; margin: 4px 0 10px; }
.table-wrap { overflow-x: auto; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
table.columns td { white-space: nowrap; }
table.columns td:first-child, table.columns td div { white-space: normal; }
td a { color: var(--accent); text-decoration: none; overflow-wrap: anywhere; }
td.bad, td.sev-critical { color: var(--bad); font-weight: 600; }
td.sev-warning { color: var(--warn); font-weight: 600; }
tr.drift td:first-child { box-shadow: inset 3px 0 var(--bad); }
tr.untested td:first-child { box-shadow: inset 3px 0 var(--warn); }
.pill { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px;
        font-weight: 600; white-space: nowrap; }
.pill.drift { background: var(--bad-bg); color: var(--bad); }
.pill.nodrift { background: var(--good-bg); color: var(--good); }
.pill.untested { background: var(--warn-bg); color: var(--warn); }
.badge { display: inline-block; border-radius: 4px; padding: 0 5px; font-size: 11px;
         background: #e3ecf7; color: var(--accent); font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px; }
figure.plot { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
              width: 342px; }
figure.plot.drift { border-color: var(--bad); }
figure.plot.untested { border-color: var(--warn); }
figcaption { font-size: 13px; margin-bottom: 4px; }
figcaption .name { font-weight: 600; overflow-wrap: anywhere; }
svg { font: 11px system-ui, sans-serif; fill: var(--ink); display: block; }
svg .chart-title { font-weight: 600; font-size: 12px; }
svg .tick { fill: var(--muted); }
svg .ref { fill: var(--ref); fill-opacity: .75; }
svg path.cur { fill: none; stroke: var(--cur); stroke-width: 2; }
svg rect.cur { fill: var(--cur); }
svg .axis { stroke: var(--line); }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .dot { fill: var(--accent); }
svg .limit { stroke: var(--bad); stroke-dasharray: 4 3; }
@media print { nav { display: none; } main { padding: 0; } }
"""

SECTIONS = (
    ("summary", "Summary"),
    ("alerts", "Alerts"),
    ("performance", "Performance"),
    ("latency", "Latency"),
    ("columns", "Columns"),
    ("distributions", "Distributions"),
    ("trends", "Trends"),
)


def render_report(
    result: WindowResult,
    *,
    monitor: str,
    source: str,
    reference: str | None,
    history: Sequence[WindowResult] = (),
    title: str | None = None,
    generated_at: float | None = None,
    alerts: Sequence[dict[str, Any]] = (),
) -> str:
    """One monitor result (with earlier windows for trends) as a complete offline HTML page."""
    heading = title or f"Monitoring report: {monitor}"
    sections = [
        summary_section(result),
        alerts_section(alerts),
        performance_section(result.performance),
        latency_section(result.latency),
        column_table_section(result.drift),
        distributions_section(result.drift),
        trends_section(result, history),
    ]
    present = [s for s in sections if s]
    links = "".join(
        f'<a href="#{anchor}">{name}</a>'
        for anchor, name in SECTIONS
        if any(s.startswith(f'<section id="{anchor}"') for s in present)
    )
    meta = _meta(result, monitor, source, reference, generated_at)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(heading)}</title><style>{CSS}</style></head>"
        f"<body><main><header><h1>{esc(heading)}</h1>{meta}<nav>{links}</nav></header>"
        f"{''.join(present)}</main></body></html>\n"
    )


def _meta(
    result: WindowResult,
    monitor: str,
    source: str,
    reference: str | None,
    generated_at: float | None,
) -> str:
    """Which monitor, data and window the page describes, and when it was made."""
    span = (
        f"{when(result.start)} to {when(result.end)}"
        if result.start is not None or result.end is not None
        else MISSING
    )
    items = (
        ("Monitor", monitor),
        ("Source", source),
        ("Reference", reference or "from lineage"),
        ("Window", result.label),
        ("Time span", span),
        ("Generated", when(time.time() if generated_at is None else generated_at)),
    )
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="meta">{rows}</dl>'
