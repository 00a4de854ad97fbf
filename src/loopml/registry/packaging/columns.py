"""The parts of a signature: one column's spec, and one problem found in a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from loopml.errors import ValidationError

ColumnType = Literal["integer", "float", "boolean", "string", "category", "datetime"]
COLUMN_TYPES: tuple[ColumnType, ...] = get_args(ColumnType)


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its type, whether training saw nulls, and its levels when there are few."""

    name: str
    type: ColumnType
    nullable: bool = False
    categories: list[str] | None = None
    minimum: float | None = None  # numeric columns: the training data's range
    maximum: float | None = None
    training_nulls: int | None = None  # missing values in the training data, when known
    model_takes_missing: bool | None = None  # a probe at logging time: predict took a null

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"column name must be a non-empty string, got {self.name!r}")
        if self.type not in COLUMN_TYPES:
            raise ValidationError(
                f"column {self.name!r} has type {self.type!r}; use one of {', '.join(COLUMN_TYPES)}"
            )
        if self.categories is not None and self.type not in ("string", "category"):
            raise ValidationError(
                f"column {self.name!r} is {self.type}; only string and category columns "
                "may list categories"
            )
        if self.categories is not None and not all(isinstance(c, str) for c in self.categories):
            raise ValidationError(f"categories of column {self.name!r} must all be strings")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        for key in ("minimum", "maximum", "training_nulls", "model_takes_missing"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ColumnSpec:
        if not isinstance(data, dict) or "name" not in data or "type" not in data:
            raise ValidationError(f"a column spec needs 'name' and 'type', got {data!r}")
        categories = data.get("categories")
        if categories is not None and not isinstance(categories, list):
            raise ValidationError(f"categories of column {data['name']!r} must be a list")
        nullable = data.get("nullable", False)
        if not isinstance(nullable, bool):
            raise ValidationError(f"'nullable' of column {data['name']!r} must be true or false")
        extra = {
            key: data[key]
            for key in ("minimum", "maximum", "training_nulls", "model_takes_missing")
            if data.get(key) is not None
        }
        return cls(data["name"], cast(ColumnType, data["type"]), nullable, categories, **extra)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request, phrased for the person who sent it."""

    field: str
    problem: str
    hint: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem, "hint": self.hint}
