"""`Signature.validate` on a whole frame: column layout first, then each column's values."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from loopml.registry.packaging.column_rules import SMALL_FRAME_ROWS, ColumnRule
from loopml.registry.packaging.columns import ColumnSpec, FieldError

_SHOWN_NAMES = 10


class Plan:
    """Everything about a signature that validation needs, computed once."""

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.specs = specs
        self.names = pd.Index([spec.name for spec in specs])  # str dtype: equals() is fastest
        self.rules = [ColumnRule(spec) for spec in specs]
        self.in_order = list(zip(self.rules, range(len(specs)), strict=True))

    def check(self, frame: pd.DataFrame, *, small_rows: int = SMALL_FRAME_ROWS) -> list[FieldError]:
        """All problems of `frame`; `small_rows` moves the per-value/vectorised threshold."""
        if frame.columns.equals(self.names):
            errors: list[FieldError] = []
            located = self.in_order
        else:
            errors, located = self._layout(frame.columns)
        rows = len(frame)
        if rows == 0:
            return errors
        if rows > small_rows:
            for rule, _ in located:
                errors += rule.check_series(frame[rule.spec.name])  # located: unique names
        elif rows == 1:
            row = _first_row(frame)
            for rule, position in located:
                if not rule.fast_ok(row[position]):
                    errors += rule.check_values(row[position : position + 1])
        else:
            by_column = frame.to_numpy(dtype=object).T
            for rule, position in located:
                errors += rule.check_values(by_column[position])
        return errors

    def _layout(self, columns: pd.Index) -> tuple[list[FieldError], list[tuple[ColumnRule, int]]]:
        """Missing, unexpected and repeated columns, and where each expected one sits."""
        errors: list[FieldError] = []
        counts = columns.value_counts(sort=False)
        position = {name: i for i, name in enumerate(columns)}
        expected = set(self.names)
        for name, count in counts.items():
            if count > 1:
                errors.append(
                    FieldError(str(name), f"column appears {count} times", "send it once")
                )
        located = []
        for rule in self.rules:
            name = rule.spec.name
            if name not in counts.index:
                errors.append(
                    FieldError(name, "missing column", f"add {name!r} ({rule.spec.type})")
                )
            elif counts[name] == 1:
                located.append((rule, position[name]))
        wanted = ", ".join(self.names[:_SHOWN_NAMES])
        wanted += " …" if len(self.names) > _SHOWN_NAMES else ""
        for name in counts.index:
            if name not in expected:
                errors.append(
                    FieldError(
                        str(name),
                        "unexpected column",
                        f"remove it; the model takes {len(self.names)} columns: {wanted}",
                    )
                )
        return errors, located


def _first_row(frame: pd.DataFrame) -> Sequence[object]:
    """The values of a 1-row frame, each as its column holds it, in the fastest way found.

    `iloc[0]` is about twice as fast as `to_numpy(dtype=object)` on frames with string
    columns, but when every column is numeric it casts ints to the common float dtype;
    such frames take the exact path, which is cheap without string columns.
    """
    row = frame.iloc[0]
    if row.dtype.kind in "fc":
        return list(frame.to_numpy(dtype=object)[0])
    return list(row.to_numpy())
