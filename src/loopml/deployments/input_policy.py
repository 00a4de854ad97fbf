"""What a deployment does with input its model's signature did not see in training.

The signature is the training data's shape; live traffic drifts away from it in two
harmless-looking ways that each deserve a decision rather than a default:

* **unknown categories** — a string value the training data never held (a new store, a
  weather code that did not occur that year): `error` refuses the request (HTTP 422),
  `accept` hands the value to the model as it is, `flag` scores it and marks the rows
  (in the answer and in the prediction log, where monitors count them);
* **extra columns** — fields the model does not take (a client sending its whole record):
  `error` refuses them (HTTP 422), `ignore` drops them before scoring and says so.

The settings live in the deployment's `config` (`unknown_categories`, `extra_columns`),
so they are versioned and audited with the deployment and reach every serving replica on
its next revision poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from loopml.errors import ValidationError

UnknownCategories = Literal["error", "accept", "flag"]
ExtraColumns = Literal["error", "ignore"]
UNKNOWN_CATEGORIES: tuple[str, ...] = get_args(UnknownCategories)
EXTRA_COLUMNS: tuple[str, ...] = get_args(ExtraColumns)
KEYS = ("unknown_categories", "extra_columns")


@dataclass(frozen=True)
class InputPolicy:
    """A deployment's answer to unseen categories and extra columns (default: refuse both)."""

    unknown_categories: UnknownCategories = "error"
    extra_columns: ExtraColumns = "error"

    def __post_init__(self) -> None:
        check_unknown_categories(self.unknown_categories)
        check_extra_columns(self.extra_columns)

    @property
    def strict(self) -> bool:
        """Both refused: the signature is checked exactly as the registry would."""
        return self.unknown_categories == "error" and self.extra_columns == "error"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InputPolicy:
        """The policy a deployment's config declares (missing keys: the defaults)."""
        return cls(
            unknown_categories=config.get("unknown_categories", "error"),
            extra_columns=config.get("extra_columns", "error"),
        )

    def to_config(self) -> dict[str, str]:
        return {
            "unknown_categories": self.unknown_categories,
            "extra_columns": self.extra_columns,
        }


def check_unknown_categories(value: Any) -> UnknownCategories:
    if value not in UNKNOWN_CATEGORIES:
        raise ValidationError(
            f"unknown_categories {value!r} is not a choice: use error (refuse the request), "
            "accept (score the value as it is) or flag (score it and mark the rows)"
        )
    return value  # type: ignore[no-any-return]


def check_extra_columns(value: Any) -> ExtraColumns:
    if value not in EXTRA_COLUMNS:
        raise ValidationError(
            f"extra_columns {value!r} is not a choice: use error (refuse the request) or "
            "ignore (drop the columns the model does not take)"
        )
    return value  # type: ignore[no-any-return]


def with_policy(
    config: Mapping[str, Any],
    unknown_categories: str | None,
    extra_columns: str | None,
) -> dict[str, Any]:
    """`config` with the given settings replaced (None keeps the current one)."""
    out = dict(config)
    if unknown_categories is not None:
        out["unknown_categories"] = check_unknown_categories(unknown_categories)
    if extra_columns is not None:
        out["extra_columns"] = check_extra_columns(extra_columns)
    InputPolicy.from_config(out)
    return out
