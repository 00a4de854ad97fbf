"""A model's input and output schema: what the serving layer checks before `predict`.

A signature is plain data (it goes into the manifest as JSON). `validate` answers "what is
wrong with this request, field by field" without raising, so the server can turn the list
into an HTTP 422; `coerce` gives `predict` the column order and dtypes seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from loopml.errors import ValidationError
from loopml.registry.packaging import checks, coercion
from loopml.registry.packaging.columns import ColumnSpec, FieldError


@dataclass(frozen=True)
class Signature:
    """Inputs in training order, and the outputs `predict` returns."""

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] = field(default_factory=list)
    _plan: checks.Plan = field(init=False, repr=False, compare=False)
    _coercer: coercion.Coercer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.inputs]
        if len(set(names)) != len(names):
            doubled = sorted({n for n in names if names.count(n) > 1})
            raise ValidationError(f"signature lists input columns twice: {', '.join(doubled)}")
        # Built once: validate() sits on the serving hot path.
        object.__setattr__(self, "_plan", checks.Plan(self.inputs))
        object.__setattr__(self, "_coercer", coercion.Coercer(self.inputs))

    def __reduce__(self) -> tuple[type[Signature], tuple[list[ColumnSpec], list[ColumnSpec]]]:
        """Pickle the data only; the prepared checks hold closures and are rebuilt."""
        return (Signature, (self.inputs, self.outputs))

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
            raise ValidationError(f"a signature needs a list of 'inputs', got {data!r}")
        outputs = data.get("outputs", [])
        if not isinstance(outputs, list):
            raise ValidationError("the 'outputs' of a signature must be a list")
        return cls(
            [ColumnSpec.from_dict(d) for d in data["inputs"]],
            [ColumnSpec.from_dict(d) for d in outputs],
        )

    def validate(self, frame: pd.DataFrame) -> list[FieldError]:
        """Every problem with `frame` as input to the model; an empty list means it is fine."""
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(f"validate takes a pandas DataFrame, got {type(frame).__name__}")
        return self._plan.check(frame)

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` in signature column order with training dtypes (ints become floats, …).

        Call `validate` first: coerce raises a ValidationError on the first problem it meets
        rather than listing them all.
        """
        return self._coercer.coerce(frame)
