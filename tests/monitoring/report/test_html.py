"""HTML monitoring reports: small, offline, well-formed, escaped, and faithful to the numbers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from loopml.monitoring.report import render_report
from loopml.monitoring.results import (
    ColumnDrift,
    DriftResult,
    Histogram,
    LatencyResult,
    PerformanceResult,
    WindowResult,
)

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"}
ROWS = 1_000_000
REFERENCE_ROWS = 200_000


class TagBalance(HTMLParser):
    """Collects unbalanced tags, every src/href attribute and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def parse(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def numeric(name: str, rng: np.random.Generator, shift: float, **extra: object) -> ColumnDrift:
    """A numerical column over a 1M-row window, its histogram on reference quantile bins."""
    edges = np.quantile(rng.normal(0, 1, 20_000), np.linspace(0, 1, 21))
    probs = np.diff(
        np.interp(edges - shift, np.sort(rng.normal(0, 1, 20_000)), np.linspace(0, 1, 20_000))
    )
    probs = np.clip(probs, 1e-6, None)
    current = rng.multinomial(ROWS, probs / probs.sum())
    reference = rng.multinomial(REFERENCE_ROWS, np.full(20, 1 / 20))
    statistic = abs(shift) / 2
    return ColumnDrift(
        column=name,
        kind="numerical",
        test="wasserstein",
        statistic=statistic,
        threshold=0.1,
        drift=statistic >= 0.1,
        reference_rows=REFERENCE_ROWS,
        current_rows=ROWS,
        distinct=REFERENCE_ROWS,
        histogram=Histogram(
            reference=[int(c) for c in reference],
            current=[int(c) for c in current],
            edges=[float(e) for e in edges],
        ),
        **extra,  # type: ignore[arg-type]
    )


def categorical(name: str, rng: np.random.Generator, drift: bool) -> ColumnDrift:
    categories = [f"{name}-value-{i}" for i in range(9)] + ["(other)"]
    probs = rng.dirichlet(np.ones(10))
    moved = rng.dirichlet(np.ones(10)) if drift else probs
    return ColumnDrift(
        column=name,
        kind="categorical",
        test="chisquare",
        statistic=0.001 if drift else 0.6,
        threshold=0.05,
        drift=drift,
        reference_rows=REFERENCE_ROWS,
        current_rows=ROWS,
        current_nulls=12,
        distinct=40,
        histogram=Histogram(
            reference=[int(c) for c in rng.multinomial(REFERENCE_ROWS, probs)],
            current=[int(c) for c in rng.multinomial(ROWS, moved)],
            categories=categories,
        ),
    )


def untested(name: str, status: str) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind=None,
        test=None,
        statistic=None,
        threshold=None,
        drift=None,
        status=status,
        message=f"{name} could not be tested",
    )


def big_window(label: str = "2026-11-27 10:00-11:00", seed: int = 0) -> WindowResult:
    """25 columns like a 1M-row window: numbers, categories, a prediction and two untested."""
    rng = np.random.default_rng(seed)
    columns = [numeric(f"num_{i}", rng, 0.6 if i % 4 == 0 else 0.0) for i in range(14)]
    columns += [categorical(f"cat_{i}", rng, i % 3 == 0) for i in range(8)]
    columns.append(numeric("prediction", rng, 0.4, is_prediction=True))
    columns += [untested("gone_col", "missing"), untested("blank_col", "all_null")]
    tested = [c for c in columns if c.drift is not None]
    share = sum(bool(c.drift) for c in tested) / len(tested)
    return WindowResult(
        label=label,
        start=1_795_000_000.0,
        end=1_795_003_600.0,
        rows=ROWS,
        drift=DriftResult(
            columns=columns,
            drift_share=0.3,
            reference_rows=REFERENCE_ROWS,
            current_rows=ROWS,
            dataset_drift=share >= 0.3,
            status="partial",
            message="2 columns could not be tested",
        ),
        performance=PerformanceResult(
            task="regression",
            rows=ROWS,
            labelled_rows=640_000,
            metrics={"r2": 0.81, "mae": 12.5, "rmse": 19.2},
        ),
        latency=[
            LatencyResult(None, ROWS, 37, 4.1, 9.8, 21.5),
            LatencyResult("bikes/3", ROWS, 37, 4.1, 9.8, 21.5),
        ],
    )


def history(count: int) -> list[WindowResult]:
    return [
        WindowResult(
            label=f"window {i}",
            start=None,
            end=None,
            rows=1000 + i,
            drift=DriftResult([], 0.3, 10, 10, None) if i % 5 else None,
            performance=PerformanceResult("regression", 100, 50, {"r2": 0.8 - i / 100}),
            latency=[LatencyResult(None, 100, i % 3, 4.0, 8.0, 20.0 + i)],
        )
        for i in range(count)
    ]


def render(result: WindowResult, **kwargs: object) -> str:
    options: dict[str, object] = {
        "monitor": "bikes-drift",
        "source": "deployment:bikes",
        "reference": "dataset:bikes@3",
        "generated_at": 1_795_004_000.0,
        **kwargs,
    }
    return render_report(result, **options)  # type: ignore[arg-type]


def row_of(page: str, column: str) -> str:
    """The column table's row for one column."""
    match = re.search(rf"<tr class=\"\w+\"><td><a [^>]*>{re.escape(column)}</a>.*?</tr>", page)
    assert match, column
    return match.group(0)


def test_a_million_row_window_makes_a_small_offline_page() -> None:
    result = big_window()
    alerts = [{"severity": "critical", "rule": "drift", "subject": "num_0", "message": "drift"}]
    page = render(result, history=history(48), alerts=alerts)
    size = len(page.encode("utf-8"))
    assert size < 2_000_000
    assert size < 400_000  # aggregates only: the page does not grow with the rows
    parsed = parse(page)
    assert "http://" not in page and "https://" not in page
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert all(link.startswith("#") for link in parsed.links)
    assert "url(" not in page and "@import" not in page
    assert result.drift is not None
    for column in result.drift.columns:
        assert f">{column.column}<" in page
    for section in ("summary", "alerts", "performance", "latency", "columns", "trends"):
        assert f'<section id="{section}">' in page


def test_verdicts_and_untested_statuses_are_shown() -> None:
    page = render(big_window())
    assert '<span class="pill drift">drift</span>' in page
    assert '<span class="pill nodrift">no drift</span>' in page
    assert "Dataset drift" in page
    for column, status in (("gone_col", "missing"), ("blank_col", "all_null")):
        row = row_of(page, column)
        assert f"({status})" in row
        assert "not tested" in row
        assert "no drift" not in row
    assert "2 columns could not be tested" in page
    assert "2 not tested" in page
    assert '<span class="badge">prediction</span>' in row_of(page, "prediction")


def test_drifted_columns_are_plotted_first() -> None:
    page = render(big_window())
    section = page[page.index('<section id="distributions">') :]
    verdicts = re.findall(r'<figure class="plot (\w+)"', section)
    assert verdicts[0] == "drift"
    assert verdicts == sorted(verdicts, key=["drift", "untested", "nodrift"].index)


def test_empty_window_renders_as_not_tested() -> None:
    empty = WindowResult(
        label="rows 0-0",
        start=None,
        end=None,
        rows=0,
        drift=DriftResult(
            columns=[untested("a", "empty"), untested("b", "empty")],
            drift_share=0.5,
            reference_rows=100,
            current_rows=0,
            dataset_drift=None,
            status="empty",
            message="the window has no rows",
        ),
        performance=PerformanceResult(None, 0, 0, status="empty"),
    )
    page = render(empty)
    parse(page)
    assert '<div class="value">Not tested</div>' in page
    assert '<div class="detail">no values (empty)</div>' in page
    assert "the window has no rows" in page
    assert "No dataset drift" not in page and ">no drift<" not in page
    assert "No latency recorded" in page


def test_window_without_drift_result_renders() -> None:
    page = render(WindowResult("w", None, None, 10, drift=None), reference=None)
    parse(page)
    assert "Drift not computed" in page
    assert "No columns were checked" in page
    assert "Performance is not monitored" in page
    assert "from lineage" in page
    assert 'id="distributions"' not in page


def test_performance_without_labels_says_so() -> None:
    window = WindowResult(
        "w",
        None,
        None,
        500,
        drift=None,
        performance=PerformanceResult(
            "classification", 500, 0, status="no_labels", message="labels arrive daily"
        ),
    )
    section = render(window).split('<section id="performance">')[1].split("</section>")[0]
    assert "no labels yet (no_labels)" in section
    assert "0 of 500 predictions labelled" in section
    assert "labels arrive daily" in section


def test_performance_and_latency_tables() -> None:
    page = render(big_window())
    performance = page.split('<section id="performance">')[1].split("</section>")[0]
    assert "640,000 of 1,000,000 predictions labelled (64.0%)" in performance
    assert "<th>r2</th>" in performance and "<td>0.81</td>" in performance
    latency = page.split('<section id="latency">')[1].split("</section>")[0]
    assert "<em>all models</em>" in latency and "bikes/3" in latency
    assert "<td>21.5</td>" in latency and "0.0037%" in latency


def test_every_user_string_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    column = ColumnDrift(
        column=evil,
        kind="categorical",
        test="chisquare",
        statistic=0.01,
        threshold=0.05,
        drift=True,
        message=evil,
        histogram=Histogram([5, 5], [1, 9], categories=['"><img src=x onerror=alert(1)>', evil]),
    )
    window = WindowResult(
        label=evil,
        start=None,
        end=None,
        rows=10,
        drift=DriftResult([column], 0.5, 10, 10, True, message=evil),
        performance=PerformanceResult("classification", 10, 10, {evil: 0.5}, message=evil),
        latency=[LatencyResult(evil, 10, 1, 1.0, 2.0, 3.0)],
    )
    page = render(
        window,
        monitor=evil,
        source=evil,
        reference=evil,
        title=evil,
        history=[window, window],
        alerts=[{"severity": evil, "rule": evil, "message": evil}],
    )
    parsed = parse(page)
    assert "<script" not in page and "<img" not in page
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def step_heights(svg: str, css: str) -> list[float]:
    """Bar heights from a step path: the baseline minus each bin's V, in drawing order."""
    path = re.search(rf'<path class="{css}" d="([^"]+)"', svg)
    assert path
    base = float(re.match(r"M[\d.]+,([\d.]+)", path.group(1)).group(1))  # type: ignore[union-attr]
    tops = [float(v) for v in re.findall(r"V([\d.]+)H", path.group(1))]
    return [base - top for top in tops]


def test_report_charts_match_the_histograms() -> None:
    result = big_window()
    assert result.drift is not None
    page = render(result)
    column = result.drift.column("num_0")
    assert column.histogram is not None
    figure = page.split('id="col-0">')[1].split("</figure>")[0]
    ref = step_heights(figure, "ref")
    total = sum(column.histogram.reference)
    expected = [c / total for c in column.histogram.reference]
    ratios = [h / e for h, e in zip(ref, expected, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios), rel=0.01)


def test_trends_use_history_once() -> None:
    result = big_window(label="latest")
    page = render(result, history=[*history(9), result])
    trends = page.split('<section id="trends">')[1]
    assert "10 windows, from window 0 to latest" in trends
    assert "p99 latency (ms)" in trends and "Share of columns drifted" in trends
    single = render(result)
    assert "Trends appear once the monitor has more than one window" in single
