"""A monitor result as one self-contained HTML page: inline CSS and SVG, no script, no network.

The page holds aggregates only (statistics, histogram counts, metrics), never rows, so a
report on a window of a million rows stays a few hundred KB and opens at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from loopml.htmlkit import MISSING, esc, nav, page, utc_time
from loopml.monitoring.report.columns import column_table_section, distributions_section
from loopml.monitoring.report.freshness import freshness_section
from loopml.monitoring.report.summary import (
    alerts_section,
    latency_section,
    performance_section,
    summary_section,
)
from loopml.monitoring.report.trends import trends_section
from loopml.monitoring.results import WindowResult

CSS = """
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
th { white-space: nowrap; }
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
"""

SECTIONS = (
    ("summary", "Summary"),
    ("alerts", "Alerts"),
    ("freshness", "Freshness"),
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
        freshness_section(result.freshness),
        performance_section(result.performance),
        latency_section(result.latency),
        column_table_section(result.drift),
        distributions_section(result.drift),
        trends_section(result, history),
    ]
    present = [s for s in sections if s]
    links = nav(
        [
            (anchor, name)
            for anchor, name in SECTIONS
            if any(s.startswith(f'<section id="{anchor}"') for s in present)
        ]
    )
    meta = _meta(result, monitor, source, reference, generated_at)
    header = f"<header><h1>{esc(heading)}</h1>{meta}{links}</header>"
    return page(heading, header + "".join(present), css=CSS, max_width=1200)


def _meta(
    result: WindowResult,
    monitor: str,
    source: str,
    reference: str | None,
    generated_at: float | None,
) -> str:
    """Which monitor, data and window the page describes, and when it was made."""
    span = (
        f"{utc_time(result.start)} to {utc_time(result.end)}"
        if result.start is not None or result.end is not None
        else MISSING
    )
    items = (
        ("Monitor", monitor),
        ("Source", source),
        ("Reference", reference or "from lineage"),
        ("Window", result.label),
        ("Time span", span),
        ("Generated", utc_time(time.time() if generated_at is None else generated_at)),
    )
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="meta">{rows}</dl>'
