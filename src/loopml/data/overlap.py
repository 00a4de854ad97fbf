"""Leakage between training and evaluation data: shared time range, shared rows.

An evaluation on rows the model was trained on scores too well (a gate that sees AUC 1.0
approves anything). Two ways data can overlap, both measured on DuckDB over the versions'
files: the evaluation's time range reaches into the training's (when both have a time
column), and rows appear in both (hashed over the columns they share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loopml.data.profile import _quote, _source, connect
from loopml.data.versions import DatasetService, DatasetVersion


@dataclass(frozen=True)
class Overlap:
    """How much of `evaluation` is also in `training` (one training version)."""

    evaluation: str  # dataset URI
    training: str
    evaluation_rows: int
    rows_in_training_time: int = 0  # evaluation rows inside the training's time range
    time_range: tuple[str, str] | None = None  # the shared stretch of time
    identical_rows: int = 0  # evaluation rows that also appear in the training data

    @property
    def found(self) -> bool:
        return self.rows_in_training_time > 0 or self.identical_rows > 0

    def describe(self) -> str:
        parts = []
        if self.rows_in_training_time:
            start, end = self.time_range or ("?", "?")
            parts.append(
                f"{self.rows_in_training_time:,} of its {self.evaluation_rows:,} rows fall in "
                f"the training period ({start} … {end})"
            )
        if self.identical_rows:
            parts.append(f"{self.identical_rows:,} rows are identical to training rows")
        return f"{self.evaluation} overlaps the training data {self.training}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.describe() if self.found else None}


def find_overlaps(
    datasets: DatasetService,
    training: Sequence[DatasetVersion],
    evaluation: DatasetVersion,
) -> list[Overlap]:
    """The overlaps of `evaluation` with each training version (only those found)."""
    found = []
    eval_files = datasets.local_files(evaluation)
    for train in training:
        if train.id == evaluation.id:
            found.append(
                Overlap(
                    evaluation.uri,
                    train.uri,
                    evaluation.row_count,
                    identical_rows=evaluation.row_count,
                )
            )
            continue
        overlap = _measure(evaluation, eval_files, train, datasets.local_files(train))
        if overlap.found:
            found.append(overlap)
    return found


def _measure(
    evaluation: DatasetVersion,
    eval_files: list[Path],
    train: DatasetVersion,
    train_files: list[Path],
) -> Overlap:
    e_src, t_src = _source(eval_files, evaluation.format), _source(train_files, train.format)
    conn = connect()
    try:
        in_time, time_range = 0, None
        if evaluation.time_column and train.time_column:
            et, tt = _quote(evaluation.time_column), _quote(train.time_column)
            low, high = conn.execute(f"SELECT min({tt}), max({tt}) FROM {t_src}").fetchone()  # type: ignore[misc]
            if low is not None:
                row = conn.execute(
                    f"SELECT count(*), min({et}), max({et}) FROM {e_src} "
                    f"WHERE {et} BETWEEN ? AND ?",
                    [low, high],
                ).fetchone()
                assert row is not None
                in_time = int(row[0])
                if in_time:
                    time_range = (str(row[1]), str(row[2]))
        shared = [c for c in evaluation.columns if c in set(train.columns)]
        identical = 0
        if shared:
            cols = ", ".join(_quote(c) for c in shared)
            identical = int(
                conn.execute(  # type: ignore[index]
                    f"SELECT count(*) FROM (SELECT hash({cols}) AS h FROM {e_src}) "
                    f"WHERE h IN (SELECT hash({cols}) FROM {t_src})"
                ).fetchone()[0]
            )
        return Overlap(
            evaluation.uri,
            train.uri,
            evaluation.row_count,
            rows_in_training_time=in_time,
            time_range=time_range,
            identical_rows=identical,
        )
    finally:
        conn.close()
