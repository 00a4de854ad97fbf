"""`ChunkScorer`: check one chunk against the model's signature, predict, add columns.

The output keeps every input column as read (Arrow, no pandas round trip) and appends
`prediction`, plus `proba_<class>` per class when the model has `predict_proba`. Rows the
signature refuses stop the batch (`fail`), or are set aside with their reasons: left out of
the output (`skip`) or kept without a prediction and with an `invalid_reasons` column
(`flag`); either way they are returned so the caller can write them to a side file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.batch.invalid_rows import INPUT_ROW, REASONS, OnInvalid, row_problems
from loopml.batch.source import Chunk
from loopml.errors import ValidationError
from loopml.registry import LoadedModel

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"


class ChunkScorer:
    """Scores chunks with one loaded model; `on_invalid` says what a refused row does."""

    def __init__(self, model: LoadedModel, on_invalid: OnInvalid = "fail") -> None:
        self.model = model
        self.signature = model.signature
        self.on_invalid = on_invalid

    def score(self, chunk: Chunk) -> pa.Table:
        """`chunk` with the prediction columns appended (the first problem stops it)."""
        scored, _ = self.score_rows(chunk)
        return scored

    def score_rows(self, chunk: Chunk) -> tuple[pa.Table, pa.Table | None]:
        """(the output rows, the refused rows with `input_row` and `invalid_reasons`, or
        None when every row was fine)."""
        if self.on_invalid == "fail" or self.signature is None:
            return self._append(chunk.table, self._predict(self._features(chunk), chunk)), None
        frame = self._frame(chunk)
        problems = row_problems(self.signature, frame)
        if not problems:
            out = self._append(chunk.table, self._predict(frame, chunk))
            if self.on_invalid == "flag":  # every chunk has the column, null when fine
                out = out.append_column(REASONS, pa.nulls(chunk.rows, pa.string()))
            return out, None
        bad = np.zeros(chunk.rows, dtype=bool)
        bad[list(problems)] = True
        good = np.flatnonzero(~bad)
        reasons = [None if not b else "; ".join(problems[i]) for i, b in enumerate(bad)]
        refused = chunk.table.filter(pa.array(bad))
        refused = refused.append_column(
            INPUT_ROW, pa.array(chunk.first_row + np.flatnonzero(bad), pa.int64())
        )
        refused = refused.append_column(REASONS, pa.array([r for r in reasons if r is not None]))
        columns = self._predict(frame.iloc[good], chunk, rows=len(good)) if len(good) else {}
        if self.on_invalid == "skip":
            return self._append(chunk.table.take(pa.array(good)), columns), refused
        # flag: every row stays; refused ones get no prediction
        positions = np.full(chunk.rows, -1, dtype=np.int64)
        positions[good] = np.arange(len(good))
        where = pa.array(positions, mask=bad)
        spread = {name: pa.array(values).take(where) for name, values in columns.items()}
        if not columns:
            spread = {PREDICTION: pa.nulls(chunk.rows, pa.float64())}
        out = self._append(chunk.table, spread)
        return out.append_column(REASONS, pa.array(reasons, pa.string())), refused

    def _append(self, table: pa.Table, columns: dict[str, Any]) -> pa.Table:
        for name, values in columns.items():
            if name in table.column_names:
                raise ValidationError(
                    f"the input already has a column {name!r}, which batch scoring writes; "
                    "rename or drop it"
                )
            table = table.append_column(
                name, values if isinstance(values, pa.Array) else pa.array(values)
            )
        return table

    def _frame(self, chunk: Chunk) -> pd.DataFrame:
        """The signature's columns as a DataFrame (not validated)."""
        assert self.signature is not None
        names = self.signature.input_names
        present = set(chunk.table.column_names)
        missing = [n for n in names if n not in present]
        if missing:
            raise ValidationError(
                f"{chunk.describe()}: missing column(s) {', '.join(map(repr, missing))}; "
                f"the model takes {', '.join(names)}"
            )
        frame: pd.DataFrame = chunk.table.select(names).to_pandas()
        return frame

    def _features(self, chunk: Chunk) -> pd.DataFrame:
        """The signature's columns as a DataFrame, validated; every column without one."""
        if self.signature is None:
            whole: pd.DataFrame = chunk.table.to_pandas()
            return whole
        frame = self._frame(chunk)
        problems = self.signature.validate(frame)
        if problems:
            first = problems[0]
            more = (
                f" ({len(problems) - 1} more problem(s) in this chunk)" if len(problems) > 1 else ""
            )
            raise ValidationError(
                f"{chunk.describe()}: column {first.field!r}: {first.problem} "
                f"(row numbers count from the chunk's first row); {first.hint}{more}; "
                "`--on-invalid skip` or `flag` sets such rows aside instead"
            )
        return frame

    def _predict(
        self, features: pd.DataFrame, chunk: Chunk, rows: int | None = None
    ) -> dict[str, np.ndarray]:
        rows = chunk.rows if rows is None else rows
        predicted, proba = self.model.predict_both(features)  # one call where it can
        predicted = np.asarray(predicted)
        if predicted.ndim == 2 and predicted.shape[1] == 1:
            predicted = predicted.ravel()
        if predicted.shape != (rows,):
            raise ValidationError(
                f"{chunk.describe()}: the model returned predictions of shape "
                f"{predicted.shape} for {rows} rows; batch scoring needs one value per row"
            )
        columns = {PREDICTION: predicted}
        if proba is not None:
            proba = np.asarray(proba)
            for i, label in enumerate(self._labels(proba.shape[1])):
                columns[f"{PROBA_PREFIX}{label}"] = proba[:, i]
        return columns

    def _labels(self, count: int) -> list[str]:
        """Class labels in probability-column order: the estimator's `classes_`, else 0…n-1."""
        classes = getattr(self.model.raw, "classes_", None)
        if classes is not None and len(classes) == count:
            return [str(c) for c in classes]
        return [str(i) for i in range(count)]
