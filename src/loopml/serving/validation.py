"""A payload checked against a model's signature, without pandas.

A 1-row request is checked value by value with the registry's own column rules (the same
wording as `Signature.validate`), and comes out as rows in signature order, ready to become
an ndarray or a DataFrame. Every problem is reported at once, field by field.

The deployment's `InputPolicy` decides about the two departures from training that are
not errors in themselves: categories the training data never held (refused, accepted, or
accepted and flagged per row) and columns the model does not take (refused or dropped).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from loopml.deployments import InputPolicy
from loopml.registry.packaging import FieldError, Signature
from loopml.registry.packaging.column_rules import ColumnRule, _rows_text
from loopml.serving.errors import ServingError
from loopml.serving.parsing import Payload, Records

Row = Sequence[Any]
Unseen = dict[str, str]  # column → the unseen category one row holds there
_SHOWN_NAMES = 10
_SHOWN_VALUES = 5
_SHOWN_LEVELS = 20
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38  # models compute in float32 or float64: beyond, absurd
STRICT = InputPolicy()


@dataclass(frozen=True, slots=True)
class CheckedRows:
    """Rows ready to score, and what the input policy did: columns dropped, rows flagged.

    `unseen` is None when no row holds an unseen category (or they are not looked for);
    otherwise it has one entry per row: the row's unseen values, or None.
    """

    rows: list[Row]
    ignored: tuple[str, ...] = ()
    unseen: list[Unseen | None] | None = None


class InputPlan:
    """What one signature needs from a request under one input policy, prepared once per
    model version and policy."""

    def __init__(self, signature: Signature, policy: InputPolicy = STRICT) -> None:
        self.policy = policy
        self.names = signature.input_names
        self.nameset = frozenset(self.names)
        # Levels are checked here rather than by the column rules: the policy decides what
        # an unseen one means, and a refusal names every unseen value and the way out.
        self.rules = list(
            enumerate(ColumnRule(replace(spec, categories=None)) for spec in signature.inputs)
        )
        self._levels = [
            (i, spec.name, frozenset(spec.categories), spec.categories)
            for i, spec in enumerate(signature.inputs)
            if spec.categories is not None
        ]
        self._by_name = _getter(self.names)
        self._bounds = [
            (i, r.spec.name, r.spec.type == "integer")
            for i, r in self.rules
            if r.spec.type in ("integer", "float")
        ]

    def rows(self, payload: Payload) -> list[Row]:
        """The payload's rows in signature order; HTTP 422 listing every problem."""
        return self.check(payload).rows

    def check(self, payload: Payload, deployment: str = "") -> CheckedRows:
        """The payload's rows in signature order, with what the policy did to them; HTTP 422
        listing every problem. `deployment` names the endpoint in the hints."""
        if isinstance(payload, Records):
            rows, ignored = self._records(payload.records, deployment)
        else:
            rows, ignored = self._table(payload.columns, payload.rows, deployment)
        errors = self.check_values(rows)
        mode = self.policy.unknown_categories
        found = self._unseen(rows) if self._levels and mode != "accept" else {}
        if found and mode == "error":
            errors += self._unknown_errors(found, deployment)
        if errors:
            raise ServingError(422, errors)
        return CheckedRows(rows, ignored, _per_row(found, len(rows)) if found else None)

    def _unseen(self, rows: list[Row]) -> dict[str, list[tuple[int, str]]]:
        """{column: [(row, value)]} of the string values outside the training levels."""
        found: dict[str, list[tuple[int, str]]] = {}
        for position, name, levels, _ in self._levels:
            for i, row in enumerate(rows):
                value = row[position]
                if type(value) is str and value not in levels:
                    found.setdefault(name, []).append((i, value))
        return found

    def _unknown_errors(
        self, found: dict[str, list[tuple[int, str]]], deployment: str
    ) -> list[FieldError]:
        listed = {name: levels for _, name, _, levels in self._levels}
        where = f"loopml deploy update {deployment or 'NAME'} --unknown-categories flag"
        errors = []
        for name, hits in found.items():
            values = list(dict.fromkeys(value for _, value in hits))
            shown = ", ".join(repr(v) for v in values[:_SHOWN_VALUES])
            more = len(values) - _SHOWN_VALUES
            shown += f" and {more} more" if more > 0 else ""
            noun = "category" if len(values) == 1 else "categories"
            rows = _rows_text([row for row, _ in hits])
            levels = listed[name]
            known = ", ".join(repr(v) for v in levels[:_SHOWN_LEVELS])
            known += f" … ({len(levels)} in all)" if len(levels) > _SHOWN_LEVELS else ""
            errors.append(
                FieldError(
                    name,
                    f"unknown {noun} {shown} at {rows}: the training data never held "
                    f"{'it' if len(values) == 1 else 'them'}",
                    f"use one of: {known}; or, to score unseen values anyway, let the "
                    f"deployment accept or flag them (`{where}`)",
                )
            )
        return errors

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
                if row[position] is not None
                and (
                    not low <= row[position] <= high
                    # JSON integers beyond 64 bits arrive as floats rounded onto ±2**63
                    or (whole and type(row[position]) is float and abs(row[position]) >= 2**63)
                )
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
    def _records(
        self, records: list[Any], deployment: str = ""
    ) -> tuple[list[Row], tuple[str, ...]]:
        nameset, names = self.nameset, self.names
        pick = self._by_name
        if all(type(r) is dict and r.keys() == nameset for r in records):
            return [pick(r) for r in records], ()
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
        if self.policy.extra_columns == "ignore":
            if not errors:
                return [pick(r) for r in records], tuple(sorted(extra))
        else:
            errors += [self._unexpected(name, rows, deployment) for name, rows in extra.items()]
        raise ServingError(422, errors)

    def _table(
        self, columns: list[str] | None, rows: list[Any], deployment: str = ""
    ) -> tuple[list[Row], tuple[str, ...]]:
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
            return rows, ()
        errors: list[FieldError] = []
        seen: set[str] = set()
        for name in columns:
            if name in seen:
                errors.append(FieldError(name, "column appears twice", "send it once"))
            seen.add(name)
        errors += [self._missing(n, None) for n in self.names if n not in seen]
        extra = [n for n in columns if n not in self.nameset]
        if self.policy.extra_columns == "error":
            errors += [self._unexpected(n, None, deployment) for n in extra]
        if errors:
            raise ServingError(422, errors)
        pick = _getter([columns.index(name) for name in self.names])
        return [pick(row) for row in rows], tuple(sorted(set(extra)))

    def _missing(self, name: str, rows: list[int] | None) -> FieldError:
        where = f" in {_rows_text(rows)}" if rows is not None else ""
        spec_type = next(rule.spec.type for _, rule in self.rules if rule.spec.name == name)
        return FieldError(name, f"missing column{where}", f"add {name!r} ({spec_type})")

    def _unexpected(self, name: str, rows: list[int] | None, deployment: str) -> FieldError:
        where = f" in {_rows_text(rows)}" if rows is not None else ""
        return FieldError(
            name,
            f"unexpected column{where}: the model does not take it",
            f"remove it (the model takes {len(self.names)} columns: {self._wanted()}), or let "
            f"the deployment drop extra columns (`loopml deploy update {deployment or 'NAME'} "
            "--extra-columns ignore`)",
        )

    def _wanted(self) -> str:
        shown = ", ".join(self.names[:_SHOWN_NAMES])
        return shown + (" …" if len(self.names) > _SHOWN_NAMES else "")


def _per_row(found: dict[str, list[tuple[int, str]]], rows: int) -> list[Unseen | None]:
    out: list[Unseen | None] = [None] * rows
    for name, hits in found.items():
        for row, value in hits:
            marks = out[row]
            if marks is None:
                marks = out[row] = {}
            marks[name] = value
    return out


def _getter(keys: Sequence[Any]) -> Callable[[Any], Row]:
    """Pull the values at `keys` in one C call (itemgetter returns a bare value for one key)."""
    if len(keys) == 1:
        only = keys[0]
        return lambda row: (row[only],)
    return itemgetter(*keys)
