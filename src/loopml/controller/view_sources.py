"""Which dataset a feature view reads, for triggers that fire on a new version of it.

A `feature_view:VIEW` trigger follows the view as it is defined when evaluated: if the view
is redefined onto another dataset, the trigger retargets to it (recorded in the audit log)
and fires once for that dataset's newest version, then for each later one.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, func, select

from loopml.errors import NotFoundError, ValidationError
from loopml.features.definitions import FeatureView
from loopml.features.rows import followed_dataset
from loopml.store.schema import dataset_versions, feature_definitions

log = logging.getLogger("loopml.controller")


def view_dataset(conn: Connection, view: str) -> str:
    """The dataset the live definition of `view` follows; NotFoundError for an unknown view,
    ValidationError when it reads Parquet files or pins a version."""
    spec = conn.execute(
        select(feature_definitions.c.spec)
        .where(feature_definitions.c.kind == "view", feature_definitions.c.name == view)
        .order_by(feature_definitions.c.version.desc())
        .limit(1)
    ).scalar()
    if spec is None:
        raise NotFoundError(
            f"no feature view {view!r}; `loopml features list` shows what is registered"
        )
    return followed_dataset(FeatureView.from_spec(view, spec)).name


def watched_dataset(conn: Connection, view: str) -> str | None:
    """`view_dataset`, or None (with a warning) when the view can no longer be followed:
    evaluation must go on for the other triggers."""
    try:
        return view_dataset(conn, view)
    except (NotFoundError, ValidationError) as exc:
        log.warning("trigger on feature view %s cannot fire: %s", view, exc)
        return None


def latest_version(conn: Connection, dataset: str) -> int:
    """The newest version number of `dataset` (0 when it has none)."""
    latest = conn.execute(
        select(func.max(dataset_versions.c.version)).where(dataset_versions.c.name == dataset)
    ).scalar()
    return int(latest or 0)
