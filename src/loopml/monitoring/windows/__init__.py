"""Windows of a deployment's prediction log: which ones are due, and the rows they hold."""

from loopml.monitoring.windows.plan import Span, plan_windows, span_label
from loopml.monitoring.windows.queries import labelled_rows, latency_by_model, request_rows

__all__ = [
    "Span",
    "labelled_rows",
    "latency_by_model",
    "plan_windows",
    "request_rows",
    "span_label",
]
