"""Label drift: the ground truth that came back as feedback against the reference's target.

Feature drift says the inputs moved; label drift says the world's outcomes moved — more
rain days, more cancellations, a different demand level — which is what makes a model's
old answers wrong even when its inputs look familiar (prior shift). A window's labels are
the feedback labels of its predictions (the latest label of each row); they are compared
with the reference's target column by the same machinery as a feature: a categorical test
for a classifier's classes, a numerical one for a regressor's values, with thresholds
calibrated on the reference's own windows of that many labels, and the same season of the
reference when the monitor is seasonal.

Labels travel through JSON and Parquet (a class `1` may come back as `"1"` or `1.0`), so
both sides are normalised as `performance` normalises them before anything is compared.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from loopml.data import DatasetVersion
from loopml.monitoring.baseline import Baseline
from loopml.monitoring.definition import Monitor
from loopml.monitoring.drift.check import DriftOptions
from loopml.monitoring.performance import infer_task, normalise
from loopml.monitoring.reference import PREDICTION, Reference
from loopml.monitoring.results import ColumnDrift

LABEL = "label"


def reference_target(monitor: Monitor, reference: Reference) -> str | None:
    """The reference column holding the true outcome: the monitor's `target`, else the one
    column of the reference that is neither a model input, a prediction nor the time."""
    columns = reference.dataset.columns
    target = monitor.config.target
    if target is not None:
        return target if target in columns else None
    inputs = reference.model_inputs
    if inputs is None:
        return None
    skip = {*inputs, PREDICTION, monitor.config.prediction, reference.dataset.time_column}
    left = [c for c in columns if c not in skip]
    return left[0] if len(left) == 1 else None


def label_drift(
    baseline: Baseline,
    monitor: Monitor,
    reference: DatasetVersion,
    ref: duckdb.DuckDBPyRelation,
    labels: pd.Series,
    *,
    target: str,
    task: str | None,
    options: DriftOptions,
    window_times: pd.Series | None = None,
) -> ColumnDrift | None:
    """The drift of the window's `labels` against `target` in `ref` (None without labels).

    `task` (classification or regression) picks the kind of test; None infers it from the
    reference's values. `window_times` are the labelled rows' times, for seasonal monitors.
    """
    present = labels.notna().to_numpy()
    if not present.any():
        return None
    wanted = [f'"{target}"']
    time_column = reference.time_column if reference.time_column in ref.columns else None
    if time_column and time_column != target:
        wanted.append(f'"{time_column}"')
    frame = ref.project(", ".join(wanted)).df()
    truth = [normalise(v) for v in frame[target]]
    current = [normalise(v) for v in labels[present]]
    chosen = task or infer_task([v for v in truth if v is not None], [], has_proba=False)
    kind = "categorical" if chosen == "classification" else "numerical"
    frame[target] = _as(kind, truth)
    window = pd.DataFrame({target: _as(kind, current)})
    declared = (target,)
    options = replace(
        options,
        columns=declared,
        categorical=declared if kind == "categorical" else (),
        numerical=declared if kind == "numerical" else (),
        drift_share=1.0,
    )
    times = None if window_times is None else window_times[present].reset_index(drop=True)
    with duckdb.connect() as conn:
        result = baseline.drift(
            monitor,
            reference,
            conn.from_df(frame),
            window,
            columns=[target],
            options=options,
            rows=len(window),
            window_times=times,
        )
    column = result.columns[0]
    what = f"the {len(window):,} feedback labels of the window against the reference's {target!r}"
    notes = [what, *([result.message] if result.message else [])]
    if column.message:
        notes.append(column.message)
    return replace(column, is_label=True, message="; ".join(notes))


def _as(kind: str, values: list[object]) -> pd.Series:
    """Normalised labels as one comparable type: text for classes, floats for values."""
    if kind == "categorical":
        return pd.Series([None if v is None else str(v) for v in values], dtype=object)
    numbers = [v if isinstance(v, int | float) else None for v in values]
    return pd.Series(np.array([np.nan if v is None else float(v) for v in numbers]))
