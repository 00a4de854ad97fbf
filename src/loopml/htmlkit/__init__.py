"""The HTML kit of loopml's offline pages (monitor reports, model cards).

Escaping, how numbers and times are written, small inline SVG charts and the page frame,
in one place, so every page looks and escapes alike. Pages are self-contained: inline CSS
and SVG, no script, no network. The kit knows nothing of monitors or models.
"""

from loopml.htmlkit.charts import bar_chart, paired_bars, step_overlay, trend_line
from loopml.htmlkit.page import nav, page, section, table
from loopml.htmlkit.text import (
    MISSING,
    compact,
    esc,
    number,
    percent,
    shares,
    shorten,
    utc_time,
    value_text,
)

__all__ = [
    "MISSING",
    "bar_chart",
    "compact",
    "esc",
    "nav",
    "number",
    "page",
    "paired_bars",
    "percent",
    "section",
    "shares",
    "shorten",
    "step_overlay",
    "table",
    "trend_line",
    "utc_time",
    "value_text",
]
