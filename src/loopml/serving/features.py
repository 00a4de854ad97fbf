"""Requests of a deployment that declares a feature service: the records carry entity keys
(and request-time values); the service's features are fetched from the online store and
added to each record before the model sees it, so the prediction log holds what the model
really used."""

from __future__ import annotations

from typing import Any

from loopml.errors import LoopmlError
from loopml.features import FeatureStore
from loopml.serving.errors import ServingError
from loopml.serving.parsing import Payload, Records


def _records(payload: Payload) -> list[dict[str, Any]]:
    if isinstance(payload, Records):
        if all(isinstance(r, dict) for r in payload.records):
            return payload.records
    elif payload.columns is not None:
        return [dict(zip(payload.columns, row, strict=False)) for row in payload.rows]
    raise ServingError.one(
        422,
        "body",
        "this deployment fetches features by entity key, so every record must name its columns",
        'send {"records": [{"station": 7, ...}]} or {"columns": [...], "data": [[...]]}',
    )


def with_features(
    store: FeatureStore, service: str, payload: Payload, model_columns: list[str] | None
) -> Records:
    """The payload's records extended with the service's online features, narrowed to the
    model's columns when its signature names them (entity keys are for the lookup)."""
    records = _records(payload)
    try:
        lookup = store.lookup(service)
        fetched = lookup.get(records)
    except LoopmlError as exc:
        raise ServingError.one(
            422, "features", str(exc), "send the entity keys the feature service needs"
        ) from None
    columns = lookup.wanted
    merged = [{**record, **{c: fetched[c][i] for c in columns}} for i, record in enumerate(records)]
    if model_columns is not None:
        merged = [{c: r[c] for c in model_columns if c in r} for r in merged]
    return Records(merged)
