"""Online lookups: a resolved plan for one set of features, so each request costs one read of
the online store and no metadata query; on-demand features computed by the same function the
training set used."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.errors import ValidationError
from loopml.features.online.base import OnlineStore, ViewLayout, ViewRead
from loopml.features.selection import Selection
from loopml.features.transforms import apply_transform, as_array


@dataclass(frozen=True)
class _Planned:
    layout: ViewLayout
    keys: tuple[str, ...]
    features: tuple[str, ...]
    ttl_s: float | None


class OnlineLookup:
    """Fetches one selection's features for entity rows: `{column: [values]}`."""

    def __init__(
        self, selection: Selection, online: OnlineStore, layouts: Mapping[str, ViewLayout]
    ) -> None:
        self.selection = selection
        self.online = online
        self.plans = tuple(
            _Planned(layouts[v.view.name], v.keys, v.features, v.view.ttl_s)
            for v in selection.views
        )
        self.keys = tuple(selection.keys)
        self.request_fields = tuple(selection.request_fields)
        self.wanted = tuple(selection.columns)

    def get(
        self,
        entity_rows: Sequence[Mapping[str, Any]],
        now: float | None = None,
    ) -> dict[str, list[Any]]:
        """Features of every row, keyed by column; keys and request fields are echoed back."""
        if not entity_rows:
            raise ValidationError("no entity rows: pass at least one {join_key: value} mapping")
        try:
            reads = [
                ViewRead(
                    p.layout, p.features, [tuple(row[k] for k in p.keys) for row in entity_rows]
                )
                for p in self.plans
            ]
        except KeyError as exc:
            raise ValidationError(
                f"an entity row lacks the join key {exc.args[0]!r}; rows need {list(self.keys)}"
            ) from None
        answers = self.online.read(reads)
        out: dict[str, list[Any]] = {k: [row[k] for row in entity_rows] for k in self.keys}
        current = time.time() if now is None else now
        for plan, found in zip(self.plans, answers, strict=True):
            columns: list[list[Any]] = [[] for _ in plan.features]
            ttl = plan.ttl_s
            for item in found:
                if item is None or (ttl is not None and current - item[0] > ttl):
                    for column in columns:
                        column.append(None)
                else:
                    for column, value in zip(columns, item[1], strict=True):
                        column.append(value)
            for name, column in zip(plan.features, columns, strict=True):
                out[name] = column
        if self.selection.on_demand:
            self._on_demand(entity_rows, out)
        return out

    def _on_demand(
        self, entity_rows: Sequence[Mapping[str, Any]], out: dict[str, list[Any]]
    ) -> None:
        missing = [f for f in self.request_fields if f not in entity_rows[0]]
        if missing:
            raise ValidationError(
                f"on-demand features need the request fields {missing} in every entity row"
            )
        for field in self.request_fields:
            out[field] = [row.get(field) for row in entity_rows]
        columns = {name: as_array(values) for name, values in out.items()}
        for chosen in self.selection.on_demand:
            values = apply_transform(chosen.view, columns, len(entity_rows))
            for name in chosen.features:
                out[name] = _plain(values[name])


def _plain(values: np.ndarray) -> list[Any]:
    """numpy values as JSON-ready Python values, NaN as None."""
    items = values.tolist()
    return [None if isinstance(v, float) and v != v else v for v in items]
