"""The kit's SVG charts: shares drawn to scale, gaps kept, every label escaped, a few KB each."""

from __future__ import annotations

import re

import pytest

from loopml.htmlkit import bar_chart, paired_bars, step_overlay, trend_line


def step_heights(svg: str, css: str) -> list[float]:
    """Bar heights from a step path: the baseline minus each bin's V, in drawing order."""
    path = re.search(rf'<path class="{css}" d="([^"]+)"', svg)
    assert path
    base = float(re.match(r"M[\d.]+,([\d.]+)", path.group(1)).group(1))  # type: ignore[union-attr]
    tops = [float(v) for v in re.findall(r"V([\d.]+)H", path.group(1))]
    return [base - top for top in tops]


def test_numeric_chart_draws_shares_of_each_sample() -> None:
    reference = [100, 300, 600]  # shares .1 .3 .6
    current = [5_000, 5_000, 0]  # shares .5 .5 0: a different sample size
    svg = step_overlay(reference, current, [0.0, 1.0, 2.0, 3.0], "x")
    ref, cur = step_heights(svg, "ref"), step_heights(svg, "cur")
    unit = ref[2] / 0.6  # the tallest share fills the plot
    assert ref == pytest.approx([0.1 * unit, 0.3 * unit, 0.6 * unit], abs=0.01)
    assert cur == pytest.approx([0.5 * unit, 0.5 * unit, 0.0], abs=0.01)
    assert ">0<" in svg and ">3<" in svg  # outer edges labelled
    assert len(svg) < 4_000


def test_category_bars_are_proportional_to_shares() -> None:
    svg = paired_bars([1, 3], [30, 10], ["a", "b"], "c")
    bars = re.findall(r'<rect class="\w+" x="110" y="[\d.]+" width="([\d.]+)" height="8"', svg)
    widths = [float(w) for w in bars]
    ref_a, cur_a, ref_b, cur_b = widths
    assert ref_b / ref_a == pytest.approx(3.0, rel=0.01)
    assert cur_a / cur_b == pytest.approx(3.0, rel=0.01)
    assert cur_a == pytest.approx(ref_b, rel=0.01)  # both are 75 % of their sample
    assert svg.index("25% → 75%") < svg.index("75% → 25%")  # a, then b


def test_trend_chart_skips_missing_windows() -> None:
    svg = trend_line("share", ["a", "b", "c", "d"], [0.1, None, 0.3, 0.4], limit=0.3)
    line = re.search(r'<path class="line" d="([^"]+)"', svg)
    assert line
    assert re.findall(r"[ML]", line.group(1)) == ["M", "M", "L"]
    assert svg.count("<circle") == 3
    assert 'class="limit"' in svg


def test_bar_chart_scales_bars_and_marks_missing_values() -> None:
    svg = bar_chart("rate by <group>", [("a", 0.25), ("b", 0.5), ("c", None)], 1.0)
    widths = [float(w) for w in re.findall(r'<rect x="190" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths == pytest.approx([55.0, 110.0])  # a quarter and a half of 220
    assert 'class="undefined">undefined<' in svg
    assert "&lt;group&gt;" in svg and "<group>" not in svg


def test_bar_chart_scales_to_the_largest_value_without_a_scale() -> None:
    svg = bar_chart("mae", [("a", 2.0), ("b", 4.0)])
    widths = [float(w) for w in re.findall(r'<rect x="190" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths == pytest.approx([110.0, 220.0])


@pytest.mark.parametrize(
    "svg",
    [
        step_overlay([], [], None, "empty"),
        paired_bars([], [], [], "empty"),
        trend_line("empty", ["a"], [None]),
    ],
)
def test_charts_without_values_say_so(svg: str) -> None:
    assert "no values to plot" in svg
