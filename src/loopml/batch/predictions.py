"""`ChunkScorer`: check one chunk against the model's signature, predict, add columns.

The output keeps every input column as read (Arrow, no pandas round trip) and appends
`prediction`, plus `proba_<class>` per class when the model has `predict_proba`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.batch.source import Chunk
from loopml.errors import ValidationError
from loopml.registry import LoadedModel

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"


class ChunkScorer:
    """Scores chunks with one loaded model; the first problem stops the batch."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.signature = model.signature

    def score(self, chunk: Chunk) -> pa.Table:
        """`chunk` with the prediction columns appended."""
        features = self._features(chunk)
        out = chunk.table
        for name, values in self._predict(features, chunk).items():
            if name in out.column_names:
                raise ValidationError(
                    f"the input already has a column {name!r}, which batch scoring writes; "
                    "rename or drop it"
                )
            out = out.append_column(name, pa.array(values))
        return out

    def _features(self, chunk: Chunk) -> pd.DataFrame:
        """The signature's columns as a DataFrame, validated; every column without one."""
        if self.signature is None:
            frame: pd.DataFrame = chunk.table.to_pandas()
            return frame
        names = self.signature.input_names
        present = set(chunk.table.column_names)
        missing = [n for n in names if n not in present]
        if missing:
            raise ValidationError(
                f"{chunk.describe()}: missing column(s) {', '.join(map(repr, missing))}; "
                f"the model takes {', '.join(names)}"
            )
        frame = chunk.table.select(names).to_pandas()
        problems = self.signature.validate(frame)
        if problems:
            first = problems[0]
            more = (
                f" ({len(problems) - 1} more problem(s) in this chunk)" if len(problems) > 1 else ""
            )
            raise ValidationError(
                f"{chunk.describe()}: column {first.field!r}: {first.problem} "
                f"(row numbers count from the chunk's first row); {first.hint}{more}"
            )
        return frame

    def _predict(self, features: pd.DataFrame, chunk: Chunk) -> dict[str, np.ndarray]:
        predicted = np.asarray(self.model.predict(features))
        if predicted.ndim == 2 and predicted.shape[1] == 1:
            predicted = predicted.ravel()
        if predicted.shape != (chunk.rows,):
            raise ValidationError(
                f"{chunk.describe()}: the model returned predictions of shape "
                f"{predicted.shape} for {chunk.rows} rows; batch scoring needs one value per row"
            )
        columns = {PREDICTION: predicted}
        if self.model.has_proba:
            proba = np.asarray(self.model.predict_proba(features))
            for i, label in enumerate(self._labels(proba.shape[1])):
                columns[f"{PROBA_PREFIX}{label}"] = proba[:, i]
        return columns

    def _labels(self, count: int) -> list[str]:
        """Class labels in probability-column order: the estimator's `classes_`, else 0…n-1."""
        classes = getattr(self.model.raw, "classes_", None)
        if classes is not None and len(classes) == count:
            return [str(c) for c in classes]
        return [str(i) for i in range(count)]
