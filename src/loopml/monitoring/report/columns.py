"""Per-column sections: the verdict table and the reference-vs-current plots, drifted first."""

from __future__ import annotations

from loopml.htmlkit import MISSING, esc, number, paired_bars, step_overlay
from loopml.monitoring.report.verdicts import column_verdict, p_value_tests, rule_text
from loopml.monitoring.results import ColumnDrift, DriftResult, Histogram

HEADERS = (
    "Column",
    "Kind",
    "Test",
    "Statistic",
    "Drift when",
    "Verdict",
    "Values ref → cur",
    "Nulls ref → cur",
    "Distinct",
)


def ordered(drift: DriftResult) -> list[tuple[int, ColumnDrift]]:
    """Columns with their original index: drifted, then not tested, then no drift."""
    rank = {True: 0, None: 1, False: 2}
    indexed = list(enumerate(drift.columns))
    return sorted(indexed, key=lambda pair: rank[pair[1].drift])


def anchor(index: int) -> str:
    """An id made from the position, since column names may hold any character."""
    return f"col-{index}"


def column_table_section(drift: DriftResult | None) -> str:
    """One row per column with the test, statistic, rule, verdict, sample sizes and nulls."""
    if drift is None or not drift.columns:
        body = '<p class="muted">No columns were checked in this window.</p>'
        return f'<section id="columns"><h2>Columns</h2>{body}</section>'
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    rows = [_row(index, column) for index, column in ordered(drift)]
    names = p_value_tests()
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)
    note = (
        f'<p class="note">Statistic is a p-value for {listed} tests (drift when '
        "below the threshold) and a distance otherwise (drift at or above it). "
        "Columns not tested say why; they never count as no drift.</p>"
    )
    return (
        f'<section id="columns"><h2>Columns ({len(drift.columns)})</h2>'
        f'<div class="table-wrap"><table class="columns"><tr>{head}</tr>{"".join(rows)}'
        f"</table></div>{note}</section>"
    )


def _row(index: int, column: ColumnDrift) -> str:
    css, verdict = column_verdict(column)
    badge = _badge(column)
    name = f'<a href="#{anchor(index)}">{esc(column.column)}</a>{badge}'
    test = esc(column.test) if column.test else MISSING
    message = f'<div class="muted">{esc(column.message)}</div>' if column.message else ""
    cells = (
        name,
        esc(column.kind or MISSING),
        test,
        number(column.statistic),
        esc(rule_text(column)),
        f'<span class="pill {css}">{esc(verdict)}</span>{message}',
        f"{number(column.reference_rows)} → {number(column.current_rows)}",
        f"{number(column.reference_nulls)} → {number(column.current_nulls)}",
        number(column.distinct),
    )
    return f'<tr class="{css}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def distributions_section(drift: DriftResult | None) -> str:
    """A plot card per column, drifted columns first."""
    if drift is None or not drift.columns:
        return ""
    cards = [_plot_card(index, column) for index, column in ordered(drift)]
    legend = (
        '<p class="note">Bars are shares of each sample (reference filled, current outlined), '
        "so windows of any size compare with the reference.</p>"
    )
    return (
        '<section id="distributions"><h2>Distributions</h2>'
        f'{legend}<div class="plots">{"".join(cards)}</div></section>'
    )


def _plot_card(index: int, column: ColumnDrift) -> str:
    css, verdict = column_verdict(column)
    if column.histogram is not None:
        chart = histogram_svg(column.histogram, f"{column.column}: reference vs current")
    else:
        chart = f'<p class="muted">{esc(column.message or "No distribution recorded.")}</p>'
    statistic = (
        f"{esc(column.test)} = {number(column.statistic)} ({esc(rule_text(column))})"
        if column.test and column.statistic is not None
        else ""
    )
    badge = _badge(column)
    return (
        f'<figure class="plot {css}" id="{anchor(index)}"><figcaption>'
        f'<span class="name">{esc(column.column)}</span>{badge} '
        f'<span class="pill {css}">{esc(verdict)}</span>'
        f'<div class="muted">{statistic}</div></figcaption>{chart}</figure>'
    )


def histogram_svg(histogram: Histogram, title: str) -> str:
    """The right chart for a histogram: overlaid shares for numbers, paired bars otherwise."""
    if histogram.categories is not None:
        return paired_bars(histogram.reference, histogram.current, histogram.categories, title)
    return step_overlay(histogram.reference, histogram.current, histogram.edges, title)


def _badge(column: ColumnDrift) -> str:
    if column.is_prediction:
        return ' <span class="badge">prediction</span>'
    if column.is_label:
        return ' <span class="badge">feedback labels</span>'
    return ""
