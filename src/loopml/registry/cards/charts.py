"""Small inline SVG bar charts: no script, no external file, every label escaped."""

from __future__ import annotations

import math
from html import escape

from loopml.registry.cards.blocks import UNDEFINED, Bars, value_text

LABEL_WIDTH = 190
BAR_WIDTH = 220
VALUE_WIDTH = 70
ROW_HEIGHT = 22
MAX_LABEL = 24


def bar_chart_svg(chart: Bars) -> str:
    """One horizontal bar per group, scaled to `chart.scale` or the largest value."""
    values = [v for _, v in chart.bars if v is not None and math.isfinite(v)]
    scale = chart.scale or max((abs(v) for v in values), default=0.0) or 1.0
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW_HEIGHT * len(chart.bars) + 28
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}">',
        f'<text x="0" y="14" class="chart-title">{escape(chart.title)}</text>',
    ]
    for row, (label, value) in enumerate(chart.bars):
        y = 24 + row * ROW_HEIGHT
        short = label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
        parts.append(
            f"<g><title>{escape(label)}: {escape(value_text(value, UNDEFINED))}</title>"
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
        )
        if value is None or not math.isfinite(value):
            parts.append(
                f'<text x="{LABEL_WIDTH}" y="{y + 14}" class="undefined">{UNDEFINED}</text>'
            )
        else:
            length = max(1.0, min(1.0, abs(value) / scale) * BAR_WIDTH)
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" '
                f'height="{ROW_HEIGHT - 6}" rx="2" class="bar"/>'
                f'<text x="{LABEL_WIDTH + BAR_WIDTH + 6}" y="{y + 14}">'
                f"{escape(value_text(value))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
