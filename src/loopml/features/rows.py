"""A feature view's rows as one DuckDB relation, for readers outside the store: monitors
compare windows of them with a reference, freshness checks read their newest event time,
triggers follow the dataset they come from.

The relation applies the view's feature expressions, so a monitor watches exactly the values
that training sets and the online store get.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb

from loopml.errors import ValidationError
from loopml.features.definitions import FeatureView
from loopml.features.sources import (
    DATASET_PREFIX,
    SourceFiles,
    check_view_columns,
    source_columns,
    view_relation,
)
from loopml.uris import DatasetRef, parse_dataset_ref

EVENT_TIME = "__event_time"  # the view's event time in a `ViewRows` relation (TIMESTAMPTZ)
EPOCH = "__epoch"  # the same as epoch seconds (DOUBLE)


@dataclass(frozen=True)
class ViewRows:
    """Where one view's rows come from now: its definition, keys and resolved source."""

    view: FeatureView
    version: int
    keys: tuple[str, ...]
    source: SourceFiles

    def relation_sql(self, conn: duckdb.DuckDBPyConnection) -> str:
        """SELECT keys, features (expressions applied), `__event_time` and `__epoch`;
        a clear error when the source lacks a column the view needs."""
        check_view_columns(self.view, list(self.keys), source_columns(conn, self.source))
        body = view_relation(self.source, self.view, list(self.keys), tie_break=False)
        return (
            f"SELECT * EXCLUDE (__ts), CAST(__ts AS TIMESTAMPTZ) AS {EVENT_TIME}, "
            f"epoch_us(CAST(__ts AS TIMESTAMPTZ)) / 1e6 AS {EPOCH} FROM ({body})"
        )

    def newest(self, conn: duckdb.DuckDBPyConnection) -> float | None:
        """The newest event time in the source (epoch seconds), None when it has no rows."""
        try:
            row = conn.execute(f"SELECT max({EPOCH}) FROM ({self.relation_sql(conn)})").fetchone()
        except duckdb.Error as exc:
            raise ValidationError(
                f"feature view {self.view.name!r} cannot read its source {self.source.uri}: {exc}"
            ) from exc
        if row is None or row[0] is None or not math.isfinite(float(row[0])):
            return None
        return float(row[0])


def followed_dataset(view: FeatureView) -> DatasetRef:
    """The dataset whose versions change what `view` reads; a clear error when none does
    (Parquet files are not versioned, a pinned version never changes)."""
    if not view.source.startswith(DATASET_PREFIX):
        raise ValidationError(
            f"feature view {view.name!r} reads Parquet files ({view.source}), which have no "
            "versions to watch: log them as a dataset and define the view on 'dataset:NAME', "
            "or trigger on a schedule instead"
        )
    ref = parse_dataset_ref(view.source)
    if ref.version is not None:
        raise ValidationError(
            f"feature view {view.name!r} pins {view.source}, so new versions never change "
            f"it: define it on 'dataset:{ref.name}' to follow the newest version"
        )
    return ref
