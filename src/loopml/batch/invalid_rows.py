"""Which rows of a chunk the signature refuses, and why: for `--on-invalid skip|flag`.

`Signature.validate` answers per column ("missing value at rows 3, 9 and 12 more"); batch
scoring that sets bad rows aside needs every bad row and its reasons. The columns validate
named are walked value by value with the same column rules, so the wording is the one an
online request would get.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Literal, get_args

import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging import Signature
from loopml.registry.packaging.column_rules import ColumnRule

OnInvalid = Literal["fail", "skip", "flag"]
ON_INVALID: tuple[str, ...] = get_args(OnInvalid)
REASONS = "invalid_reasons"  # the column that says why a row was set aside
INPUT_ROW = "input_row"  # the row's number in the input file, from 0

_AT_ROW = re.compile(r" at row \d+$")


def check_on_invalid(value: str) -> OnInvalid:
    if value not in ON_INVALID:
        raise ValidationError(
            f"on_invalid {value!r} is unknown: use fail (stop at the first bad row), skip "
            "(leave bad rows out) or flag (keep them, without a prediction)"
        )
    return value  # type: ignore[return-value]


def row_problems(signature: Signature, frame: pd.DataFrame) -> dict[int, list[str]]:
    """{row position: its problems} for the rows of `frame` the signature refuses."""
    errors = signature.validate(frame)
    if not errors:
        return {}
    failing = {error.field for error in errors}
    problems: dict[int, list[str]] = defaultdict(list)
    for spec in signature.inputs:
        if spec.name not in failing:
            continue
        rule = ColumnRule(spec)
        fast_ok = rule.fast_ok
        for row, value in enumerate(frame[spec.name].to_numpy(dtype=object)):
            if fast_ok(value):
                continue
            for error in rule.check_values([value]):
                problem = _AT_ROW.sub("", error.problem)
                problems[row].append(f"{error.field}: {problem} ({error.hint})")
    return dict(problems)
