"""Self-contained HTML reports of monitor results, built from aggregates only."""

from loopml.monitoring.report.html import render_report

__all__ = ["render_report"]
