"""A payload checked against a model's signature, without pandas.

A 1-row request is checked value by value with the registry's own column rules (the same
wording as `Signature.validate`), and comes out as rows in signature order, ready to become
an ndarray or a DataFrame. Every problem is reported at once, field by field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from loopml.registry.packaging import FieldError, Signature
from loopml.registry.packaging.column_rules import ColumnRule, _rows_text
from loopml.serving.errors import ServingError
from loopml.serving.parsing import Payload, Records

Row = Sequence[Any]
_SHOWN_NAMES = 10
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38  # models compute in float32 or float64: beyond, absurd


class InputPlan:
    """What one signature needs from a request, prepared once per model version."""

    def __init__(self, signature: Signature) -> None:
        self.names = signature.input_names
        self.nameset = frozenset(self.names)
        self.rules = list(enumerate(ColumnRule(spec) for spec in signature.inputs))
        self._by_name = _getter(self.names)
        self._bounds = [
            (i, r.spec.name, r.spec.type == "integer")
            for i, r in self.rules
            if r.spec.type in ("integer", "float")
        ]

    def rows(self, payload: Payload) -> list[Row]:
        """The payload's rows in signature order; HTTP 422 listing every problem."""
        if isinstance(payload, Records):
            rows = self._records(payload.records)
        else:
            rows = self._table(payload.columns, payload.rows)
        errors = self.check_values(rows)
        if errors:
            raise ServingError(422, errors)
        return rows

    def check_values(self, rows: list[Row]) -> list[FieldError]:
        errors: list[FieldError] = []
        for position, rule in self.rules:
            fast_ok = rule.fast_ok
            for row in rows:
                if not fast_ok(row[position]):
                    errors += rule.check_values([row[position] for row in rows])
                    break
        if not errors:
            errors = self._out_of_range(rows)
        return errors

    def _out_of_range(self, rows: list[Row]) -> list[FieldError]:
        """Numbers no model computes with: whole numbers beyond 64 bits, floats beyond the
        float32 range (trees and many estimators convert to float32 and overflow)."""
        errors = []
        for position, name, whole in self._bounds:
            low, high = (INT64_MIN, INT64_MAX) if whole else (-FLOAT32_MAX, FLOAT32_MAX)
            bad = [
                i
                for i, row in enumerate(rows)
                if row[position] is not None and not low <= row[position] <= high
            ]
            if bad:
                what = "a 64-bit integer" if whole else "a 32-bit float (±3.4e38)"
                errors.append(
                    FieldError(
                        name,
                        f"value beyond the range of {what} at {_rows_text(bad)}",
                        f"send a number between {low:g} and {high:g}",
                    )
                )
        return errors

    def records_of(self, rows: list[Row]) -> list[dict[str, Any]]:
        """Rows as {column: value}, the shape the prediction log keeps."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in rows]

    # ------------------------------------------------------------------ layout
    def _records(self, records: list[Any]) -> list[Row]:
        nameset, names = self.nameset, self.names
        if all(type(r) is dict and r.keys() == nameset for r in records):
            pick = self._by_name
            return [pick(r) for r in records]
        missing: dict[str, list[int]] = defaultdict(list)
        extra: dict[str, list[int]] = defaultdict(list)
        errors: list[FieldError] = []
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                errors.append(FieldError(f"records[{i}]", "not an object", "send {column: value}"))
                continue
            for name in names:
                if name not in record:
                    missing[name].append(i)
            for key in record:
                if key not in nameset:
                    extra[str(key)].append(i)
        errors += [self._missing(name, rows) for name, rows in missing.items()]
        errors += [self._unexpected(name, rows) for name, rows in extra.items()]
        raise ServingError(422, errors)

    def _table(self, columns: list[str] | None, rows: list[Any]) -> list[Row]:
        width = len(self.names) if columns is None else len(columns)
        short = [i for i, row in enumerate(rows) if len(row) != width]
        if short:
            what = "the signature's" if columns is None else "the column list's"
            raise ServingError.one(
                422,
                "data",
                f"{_rows_text(short)} {'has' if len(short) == 1 else 'have'} a number of values "
                f"other than {what} {width}",
                f"send one value per column, in the order of: {self._wanted()}",
            )
        if columns is None or columns == self.names:
            return rows
        errors: list[FieldError] = []
        seen: set[str] = set()
        for name in columns:
            if name in seen:
                errors.append(FieldError(name, "column appears twice", "send it once"))
            seen.add(name)
        errors += [self._missing(n, None) for n in self.names if n not in seen]
        errors += [self._unexpected(n, None) for n in columns if n not in self.nameset]
        if errors:
            raise ServingError(422, errors)
        pick = _getter([columns.index(name) for name in self.names])
        return [pick(row) for row in rows]

    def _missing(self, name: str, rows: list[int] | None) -> FieldError:
        where = f" in {_rows_text(rows)}" if rows is not None else ""
        spec_type = next(rule.spec.type for _, rule in self.rules if rule.spec.name == name)
        return FieldError(name, f"missing column{where}", f"add {name!r} ({spec_type})")

    def _unexpected(self, name: str, rows: list[int] | None) -> FieldError:
        where = f" in {_rows_text(rows)}" if rows is not None else ""
        return FieldError(
            name,
            f"unexpected column{where}",
            f"remove it; the model takes {len(self.names)} columns: {self._wanted()}",
        )

    def _wanted(self) -> str:
        shown = ", ".join(self.names[:_SHOWN_NAMES])
        return shown + (" …" if len(self.names) > _SHOWN_NAMES else "")


def _getter(keys: Sequence[Any]) -> Callable[[Any], Row]:
    """Pull the values at `keys` in one C call (itemgetter returns a bare value for one key)."""
    if len(keys) == 1:
        only = keys[0]
        return lambda row: (row[only],)
    return itemgetter(*keys)
