"""`MetricHistory`: a metric's points held as three columns rather than a million objects.

A history of a million points read as `MetricPoint` objects costs more in Python than the
database spends finding them. `MetricHistory` keeps steps, values and timestamps in numpy
arrays, behaves as a read-only sequence of `MetricPoint` (indexing, iteration, `len`,
comparison with a list) and hands the arrays or a DataFrame to a chart without a copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.tracking.records import MetricPoint


class MetricHistory(Sequence[MetricPoint]):
    """The points of one metric, by step (then by logging order)."""

    __slots__ = ("_steps", "_timestamps", "_values")

    def __init__(
        self,
        steps: npt.ArrayLike,
        values: npt.ArrayLike,
        timestamps: npt.ArrayLike,
    ) -> None:
        self._steps = np.asarray(steps, dtype=np.int64)
        self._values = np.asarray(values, dtype=np.float64)
        self._timestamps = np.asarray(timestamps, dtype=np.float64)
        if not len(self._steps) == len(self._values) == len(self._timestamps):
            raise ValueError("steps, values and timestamps must have the same length")
        for array in (self._steps, self._values, self._timestamps):
            array.flags.writeable = False

    @classmethod
    def empty(cls) -> MetricHistory:
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0))

    @classmethod
    def of_points(cls, points: Sequence[MetricPoint]) -> MetricHistory:
        return cls(
            [p.step for p in points], [p.value for p in points], [p.timestamp for p in points]
        )

    @property
    def steps(self) -> npt.NDArray[np.int64]:
        return self._steps

    @property
    def values(self) -> npt.NDArray[np.float64]:
        return self._values

    @property
    def timestamps(self) -> npt.NDArray[np.float64]:
        return self._timestamps

    def __len__(self) -> int:
        return len(self._steps)

    @overload
    def __getitem__(self, index: int) -> MetricPoint: ...

    @overload
    def __getitem__(self, index: slice) -> MetricHistory: ...

    def __getitem__(self, index: int | slice) -> MetricPoint | MetricHistory:
        if isinstance(index, slice):
            return MetricHistory(self._steps[index], self._values[index], self._timestamps[index])
        return MetricPoint(
            int(self._steps[index]), float(self._values[index]), float(self._timestamps[index])
        )

    def __iter__(self) -> Iterator[MetricPoint]:
        columns = (self._steps.tolist(), self._values.tolist(), self._timestamps.tolist())
        for step, value, timestamp in zip(*columns, strict=True):
            yield MetricPoint(step, value, timestamp)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricHistory):
            return (
                np.array_equal(self._steps, other._steps)
                and np.array_equal(self._values, other._values)
                and np.array_equal(self._timestamps, other._timestamps)
            )
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def to_pandas(self) -> pd.DataFrame:
        """Columns `step`, `value`, `timestamp`."""
        return pd.DataFrame(
            {"step": self._steps, "value": self._values, "timestamp": self._timestamps}
        )

    def __repr__(self) -> str:
        if not len(self):
            return "MetricHistory([])"
        first, last = self[0], self[len(self) - 1]
        return f"MetricHistory({len(self):,} points, steps {first.step}…{last.step})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (MetricHistory, (self._steps, self._values, self._timestamps))
