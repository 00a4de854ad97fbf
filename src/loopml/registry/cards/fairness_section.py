"""The fairness section: a `FairnessReport.to_dict()` as tables and per-group bar charts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.registry.cards.blocks import (
    UNDEFINED,
    Bars,
    Block,
    Bullets,
    Facts,
    Heading,
    Table,
    Text,
    mapping,
    value_text,
)

MAX_GROUPS = 40
"""Groups shown per column; intersections of many columns are cut with a note."""

CHARTED = {
    "classification": ("selection_rate", "true_positive_rate"),
    "regression": ("mae",),
}
"""The per-group metrics drawn as bar charts."""


def fairness_blocks(report: Mapping[str, Any]) -> list[Block]:
    """Summary, disparities, overall and per-group tables, charts, and why values are None."""
    if not report:
        return [Text("No fairness evaluation recorded.")]
    task = str(report.get("task", ""))
    columns = report.get("sensitive_columns") or []
    facts = [
        ("Task", value_text(task)),
        ("Sensitive columns", value_text(list(columns))),
        ("Rows evaluated", value_text(report.get("n_samples"))),
    ]
    if report.get("intersection"):
        facts.append(("Intersection", value_text(report["intersection"])))
    if task == "classification":
        facts.append(("Positive label", value_text(report.get("pos_label"))))
    blocks: list[Block] = [Facts(tuple(facts))]
    disparities = mapping(report, "disparities")
    if disparities:
        names = list(dict.fromkeys(n for d in disparities.values() for n in d))
        rows = tuple(
            (str(c), *(_cell(mapping(disparities, c).get(n)) for n in names)) for c in disparities
        )
        note = "Differences are 0 at parity, ratios 1."
        blocks += [Heading("Disparities between groups"), Table(("column", *names), rows, note)]
    overall = mapping(report, "overall")
    if overall:
        blocks += [Heading("Overall"), _metric_table(("all rows",), [overall])]
    for column, groups in mapping(report, "per_group").items():
        blocks += _per_group(task, str(column), groups)
    notes = [f"{where}: {why}" for where, why in mapping(report, "undefined").items()]
    notes += [str(w) for w in report.get("warnings") or []]
    if notes:
        blocks += [Heading("Notes"), Bullets(tuple(notes))]
    return blocks


def _per_group(task: str, column: str, groups: Any) -> list[Block]:
    if not isinstance(groups, Mapping) or not groups:
        return []
    shown = list(groups.items())[:MAX_GROUPS]
    table = _metric_table(tuple(str(g) for g, _ in shown), [m for _, m in shown])
    cut = len(groups) - MAX_GROUPS
    if cut > 0:
        table = Table(table.headers, table.rows, f"{cut} more groups not shown.")
    charts: list[Block] = [
        Bars(
            f"{metric} by {column}",
            tuple((str(g), _number(m, metric)) for g, m in shown),
            1.0 if metric.endswith("_rate") else None,
        )
        for metric in CHARTED.get(task, ())
    ]
    return [Heading(f"By {column}"), table, *charts]


def _metric_table(labels: tuple[str, ...], rows: list[Any]) -> Table:
    metrics = [m if isinstance(m, Mapping) else {} for m in rows]
    names = list(dict.fromkeys(n for m in metrics for n in m))
    cells = tuple(
        (label, *(_cell(m.get(n)) for n in names)) for label, m in zip(labels, metrics, strict=True)
    )
    return Table(("group", *names), cells)


def _cell(value: Any) -> str:
    return value_text(value, UNDEFINED)


def _number(metrics: Any, name: str) -> float | None:
    value = metrics.get(name) if isinstance(metrics, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
