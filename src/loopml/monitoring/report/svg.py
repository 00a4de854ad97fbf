"""Small inline SVG charts drawn from aggregates: no script, no external file, a few KB each.

Distributions are drawn as shares of each sample, because the reference and the current
window rarely have the same number of rows. Colours come from the page's CSS classes
(`ref`, `cur`, `line`, `limit`), which keeps every chart short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from loopml.monitoring.report.values import compact, esc, number, percent, shares, shorten
from loopml.monitoring.results import Histogram

WIDTH = 320
PLOT_LEFT = 44
PLOT_RIGHT = 312
PLOT_TOP = 22
PLOT_BOTTOM = 128
HEIGHT = 170
MAX_TICK = 12


def histogram_svg(histogram: Histogram, title: str) -> str:
    """The right chart for a histogram: overlaid shares for numbers, grouped bars otherwise."""
    if histogram.categories is not None:
        return category_bars_svg(
            histogram.reference, histogram.current, histogram.categories, title
        )
    return numeric_overlay_svg(histogram.reference, histogram.current, histogram.edges, title)


def numeric_overlay_svg(
    reference: Sequence[int], current: Sequence[int], edges: Sequence[float] | None, title: str
) -> str:
    """Reference as a filled step area, current as a step outline over it.

    Bins are drawn at equal widths and labelled with their edges, so quantile bins and
    open-ended outer bins stay readable.
    """
    ref, cur = shares(reference), shares(current)
    bins = max(len(ref), len(cur))
    if bins == 0:
        return _empty_svg(title)
    top = max([*ref, *cur, 0.0]) or 1.0
    width = (PLOT_RIGHT - PLOT_LEFT) / bins
    parts = [_open(WIDTH, HEIGHT, title), _legend(), _y_axis(top)]
    parts.append(f'<path class="ref" d="{_step_path(ref, top, width, closed=True)}"/>')
    parts.append(f'<path class="cur" d="{_step_path(cur, top, width, closed=False)}"/>')
    parts.append(_baseline())
    if edges and len(edges) == bins + 1:
        for index in sorted({0, bins // 2, bins}):
            x = PLOT_LEFT + index * width
            anchor = "start" if index == 0 else "end" if index == bins else "middle"
            label = esc(shorten(number(edges[index]), MAX_TICK))
            parts.append(
                f'<text x="{x:.1f}" y="{PLOT_BOTTOM + 14}" text-anchor="{anchor}" '
                f'class="tick">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _step_path(values: Sequence[float], top: float, width: float, *, closed: bool) -> str:
    """M to the baseline, then one V (bar top) and one H (bar end) per bin."""
    steps = [f"M{PLOT_LEFT},{PLOT_BOTTOM}"]
    for index, value in enumerate(values):
        y = PLOT_BOTTOM - value / top * (PLOT_BOTTOM - PLOT_TOP)
        steps.append(f"V{y:.2f}H{PLOT_LEFT + (index + 1) * width:.2f}")
    steps.append(f"V{PLOT_BOTTOM}")
    if closed:
        steps.append("Z")
    return "".join(steps)


CAT_LABEL = 110
CAT_BAR = 140
CAT_ROW = 22


def category_bars_svg(
    reference: Sequence[int], current: Sequence[int], categories: Sequence[str], title: str
) -> str:
    """Two thin horizontal bars per category (reference above current), scaled to shares."""
    ref, cur = shares(reference), shares(current)
    rows = min(len(categories), len(ref), len(cur))
    if rows == 0:
        return _empty_svg(title)
    top = max([*ref[:rows], *cur[:rows], 0.0]) or 1.0
    height = PLOT_TOP + 14 + rows * CAT_ROW + 4
    parts = [_open(WIDTH, height, title), _legend()]
    for index in range(rows):
        y = PLOT_TOP + 14 + index * CAT_ROW
        name = categories[index]
        ref_len = ref[index] / top * CAT_BAR
        cur_len = cur[index] / top * CAT_BAR
        parts.append(
            f"<g><title>{esc(name)}: reference {percent(ref[index])}, "
            f"current {percent(cur[index])}</title>"
            f'<text x="{CAT_LABEL - 6}" y="{y + 13}" text-anchor="end">'
            f"{esc(shorten(name, 16))}</text>"
            f'<rect class="ref" x="{CAT_LABEL}" y="{y + 2}" width="{ref_len:.2f}" height="8"/>'
            f'<rect class="cur" x="{CAT_LABEL}" y="{y + 10}" width="{cur_len:.2f}" height="8"/>'
            f'<text x="{CAT_LABEL + CAT_BAR + 6}" y="{y + 13}" class="tick">'
            f"{percent(ref[index], 0)} → {percent(cur[index], 0)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


TREND_WIDTH = 320
TREND_HEIGHT = 150
DOTS_UP_TO = 40


def trend_svg(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    limit: float | None = None,
    as_percent: bool = False,
) -> str:
    """A line across windows; a gap where a window has no value; `limit` as a dashed line."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return _empty_svg(title, TREND_WIDTH, TREND_HEIGHT)
    bounds = [*known, *([limit] if limit is not None else [])]
    if as_percent:  # shares start at zero, so a small error rate does not look like a spike
        low, high = 0.0, max(*bounds, 0.01)
    else:
        low, high = min(bounds), max(bounds)
    if high == low:
        low, high = low - (abs(low) or 1.0) * 0.1, high + (abs(high) or 1.0) * 0.1
    right = TREND_WIDTH - 12
    step = (right - PLOT_LEFT) / max(len(values) - 1, 1)

    def y_of(value: float) -> float:
        return PLOT_BOTTOM - (value - low) / (high - low) * (PLOT_BOTTOM - PLOT_TOP)

    show = percent if as_percent else number
    axis = percent if as_percent else compact
    parts = [_open(TREND_WIDTH, TREND_HEIGHT, title, heading=True)]
    parts.append(_tick_text(PLOT_LEFT - 4, PLOT_TOP + 4, axis(high), "end"))
    parts.append(_tick_text(PLOT_LEFT - 4, PLOT_BOTTOM, axis(low), "end"))
    if limit is not None:
        y = y_of(limit)
        parts.append(f'<path class="limit" d="M{PLOT_LEFT},{y:.2f}H{right}"/>')
    path: list[str] = []
    dots: list[str] = []
    previous = False
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            previous = False
            continue
        x, y = PLOT_LEFT + index * step, y_of(value)
        path.append(f"{'L' if previous else 'M'}{x:.1f},{y:.1f}")
        previous = True
        if len(values) <= DOTS_UP_TO or index == len(values) - 1:
            dots.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{esc(labels[index])}: {show(value)}</title></circle>"
            )
    parts.append(f'<path class="line" d="{"".join(path)}"/>')
    parts.extend(dots)
    parts.append(
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{right}" y2="{PLOT_BOTTOM}" class="axis"/>'
    )
    parts.append(_tick_text(PLOT_LEFT, PLOT_BOTTOM + 14, shorten(labels[0], 22), "start"))
    if len(labels) > 1:
        parts.append(_tick_text(right, PLOT_BOTTOM + 14, shorten(labels[-1], 22), "end"))
    last = known[-1]
    parts.append(_tick_text(right, PLOT_TOP - 8, f"latest {show(last)}", "end"))
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str, *, heading: bool = False) -> str:
    """The SVG element, titled for screen readers; `heading` also draws the title."""
    shown = f'<text x="0" y="12" class="chart-title">{esc(shorten(title, 30))}</text>'
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>'
        f"{shown if heading else ''}"
    )


def _legend() -> str:
    x = PLOT_LEFT
    return (
        f'<rect class="ref" x="{x}" y="4" width="10" height="10"/>'
        f'<text x="{x + 14}" y="13" class="tick">reference</text>'
        f'<rect class="cur" x="{x + 72}" y="4" width="10" height="10"/>'
        f'<text x="{x + 86}" y="13" class="tick">current</text>'
    )


def _y_axis(top: float) -> str:
    return _tick_text(PLOT_LEFT - 4, PLOT_TOP + 4, percent(top, 0), "end") + _tick_text(
        PLOT_LEFT - 4, PLOT_BOTTOM, "0%", "end"
    )


def _baseline() -> str:
    return (
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}" '
        'class="axis"/>'
    )


def _tick_text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" class="tick">{esc(text)}</text>'


def _empty_svg(title: str, width: int = WIDTH, height: int = 60) -> str:
    return (
        f"{_open(width, height, title, heading=True)}"
        f'<text x="0" y="38" class="tick">no values to plot</text></svg>'
    )
