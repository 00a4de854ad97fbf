"""The freshness section of a report: how current a feature view's online values were."""

from __future__ import annotations

from loopml.htmlkit import MISSING, esc, utc_time
from loopml.monitoring.definition import human_duration
from loopml.monitoring.results import FreshnessResult


def freshness_section(fresh: FreshnessResult | None) -> str:
    """Empty for windows without a freshness check (every monitor but a feature view's)."""
    if fresh is None:
        return ""

    def span(value: float | None) -> str:
        return MISSING if value is None else human_duration(value)

    def at(value: float | None) -> str:
        return MISSING if value is None else utc_time(value)

    rows = (
        ("Feature view", esc(fresh.view)),
        ("Checked", at(fresh.checked_at)),
        ("Last materialization ended", at(fresh.materialized_at)),
        ("Materialized from", esc(fresh.materialized_from or MISSING)),
        ("The source now", esc(fresh.source_now or MISSING)),
        ("Newest event time online", at(fresh.watermark)),
        ("Newest event time in the source", at(fresh.source_newest)),
        ("Lag (check - newest online)", span(fresh.lag_s)),
        ("Age (check - last materialization)", span(fresh.age_s)),
        ("Behind (source - online)", span(fresh.behind_s)),
        ("Newest run", esc(fresh.last_status or MISSING)),
    )
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        '<section id="freshness"><h2>Freshness</h2>'
        f'<div class="table-wrap"><table>{body}</table></div></section>'
    )
