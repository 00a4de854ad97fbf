"""Materialization: the latest value per entity (within the view's TTL) from the offline
source into the online store, in chunks, with a record of every run.

Full runs read the whole source; incremental runs only rows newer than the last run's
watermark. DuckDB's aggregate spills past its memory limit and rows reach the online store a
chunk at a time, so memory stays bounded whatever the source size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select, update

from loopml.errors import ValidationError
from loopml.features.definitions import FeatureView
from loopml.features.offline import open_duckdb
from loopml.features.online.base import OnlineStore, ViewLayout
from loopml.features.sources import (
    SourceFiles,
    check_view_columns,
    keys_unique,
    source_columns,
    view_relation,
)
from loopml.governance import append_event, require
from loopml.store import Stores, new_id
from loopml.store.schema import feature_materializations

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class MaterializationRun:
    id: str
    view: str
    view_version: int
    mode: str
    source: str
    status: str
    rows: int
    entities: int
    watermark: float | None
    started_at: float
    finished_at: float | None
    online_store: str
    error: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> MaterializationRun:
        m = row._mapping
        return cls(
            id=m["id"],
            view=m["view"],
            view_version=m["view_version"],
            mode=m["mode"],
            source=m["source"],
            status=m["status"],
            rows=m["rows"],
            entities=m["entities"],
            watermark=m["watermark"],
            started_at=m["started_at"],
            finished_at=m["finished_at"],
            online_store=m["online_store"],
            error=m["error"],
        )


def layout_of(view: FeatureView, keys: list[str], key_types: dict[str, str]) -> ViewLayout:
    integer = len(keys) == 1 and key_types.get(keys[0], "").upper() in (
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
    )
    return ViewLayout(view.name, integer, tuple((f.name, f.dtype) for f in view.features))


def last_run(stores: Stores, view: str, status: str = "done") -> MaterializationRun | None:
    with stores.engine.connect() as conn:
        row = conn.execute(
            select(feature_materializations)
            .where(
                feature_materializations.c.view == view, feature_materializations.c.status == status
            )
            .order_by(feature_materializations.c.started_at.desc())
            .limit(1)
        ).first()
    return MaterializationRun.from_row(row) if row else None


def runs(stores: Stores, view: str | None = None, limit: int = 20) -> list[MaterializationRun]:
    query = select(feature_materializations).order_by(feature_materializations.c.started_at.desc())
    if view is not None:
        query = query.where(feature_materializations.c.view == view)
    with stores.engine.connect() as conn:
        return [MaterializationRun.from_row(r) for r in conn.execute(query.limit(limit))]


def materialize_view(
    stores: Stores,
    online: OnlineStore,
    view: FeatureView,
    view_version: int,
    keys: list[str],
    source: SourceFiles,
    *,
    incremental: bool = False,
    end: float | None = None,
    memory_limit: str = "1GB",
    chunk_rows: int = CHUNK_ROWS,
) -> MaterializationRun:
    """Copy the view's latest values per entity into `online` and record the run."""
    require(stores.actor, "write", "materialize feature views")
    if not view.online:
        raise ValidationError(f"feature view {view.name!r} is declared online=False")
    end = time.time() if end is None else end
    previous = last_run(stores, view.name) if incremental else None
    since = previous.watermark if previous is not None else None
    run_id = new_id("mat")
    started = time.time()
    with stores.engine.begin() as conn:
        conn.execute(
            feature_materializations.insert().values(
                id=run_id,
                view=view.name,
                view_version=view_version,
                mode="incremental" if incremental else "full",
                source=source.uri,
                source_key=source.key,
                online_store=online.capabilities.name,
                status="running",
                rows=0,
                entities=0,
                watermark=None,
                error=None,
                created_by=stores.actor.name,
                started_at=started,
                finished_at=None,
            )
        )
    try:
        entities, rows, watermark = _copy(
            stores, online, view, keys, source, since, end, memory_limit, chunk_rows
        )
    except BaseException as exc:
        _finish(stores, run_id, "failed", 0, 0, since, f"{type(exc).__name__}: {exc}")
        raise
    if watermark is None:
        watermark = since
    _finish(stores, run_id, "done", rows, entities, watermark, None)
    with stores.engine.begin() as conn:
        append_event(
            conn,
            stores.actor,
            "features.materialize",
            f"features:view/{view.name}",
            {
                "run": run_id,
                "entities": entities,
                "source": source.uri,
                "mode": "incremental" if incremental else "full",
            },
        )
    run = runs(stores, view.name, 1)
    return run[0]


def _finish(
    stores: Stores,
    run_id: str,
    status: str,
    rows: int,
    entities: int,
    watermark: float | None,
    error: str | None,
) -> None:
    with stores.engine.begin() as conn:
        conn.execute(
            update(feature_materializations)
            .where(feature_materializations.c.id == run_id)
            .values(
                status=status,
                rows=rows,
                entities=entities,
                watermark=watermark,
                error=error,
                finished_at=time.time(),
            )
        )


def _copy(
    stores: Stores,
    online: OnlineStore,
    view: FeatureView,
    keys: list[str],
    source: SourceFiles,
    since: float | None,
    end: float,
    memory_limit: str,
    chunk_rows: int,
) -> tuple[int, int, float | None]:
    temp_dir = stores.settings.local_path(stores.settings.cache_dir) / "duckdb-spill"
    conn = open_duckdb(memory_limit, None, temp_dir)
    try:
        columns = source_columns(conn, source)
        check_view_columns(view, keys, columns)
        layout = layout_of(view, keys, columns)
        online.prepare(layout)
        tie_break = not keys_unique(stores, conn, source, view, keys)
        body = view_relation(source, view, keys, tie_break)
        body = f"SELECT * REPLACE (CAST(__ts AS TIMESTAMPTZ) AS __ts) FROM ({body})"
        conditions = [f"epoch_us(__ts) <= {round(end * 1e6)}"]
        if since is not None:
            conditions.append(f"epoch_us(__ts) > {round(since * 1e6)}")
        if view.ttl_s is not None:
            conditions.append(f"epoch_us(__ts) >= {round((end - view.ttl_s) * 1e6)}")
        projected = ", ".join(
            ["epoch_us(__ts) / 1e6 AS __p_epoch"]
            + [
                f"epoch_us({f.name}) / 1e6 AS __p_{f.name}"
                if f.dtype == "timestamp"
                else f"{f.name} AS __p_{f.name}"
                for f in view.features
            ]
        )
        order = "__order" if tie_break else "__ts"
        key_list = ", ".join(keys)
        inner = (
            f"SELECT {key_list}, __ts, {projected}{', __order' if tie_break else ''} "
            f"FROM ({body}) WHERE {' AND '.join(conditions)}"
        )
        latest = (
            f"SELECT {key_list}, arg_max({{{_struct(view)}}}, {order}) AS s "
            f"FROM ({inner}) GROUP BY {key_list}"
        )
        unpacked = ", ".join(
            ["s.__epoch AS __epoch"] + [f"s.{n} AS {n}" for n in view.feature_names]
        )
        sql = f"SELECT {key_list}, {unpacked} FROM ({latest})"
        try:
            reader: pa.RecordBatchReader = conn.sql(sql).to_arrow_reader(chunk_rows)
        except duckdb.Error as exc:
            raise ValidationError(
                f"cannot materialize {view.name!r} from {source.uri}: {exc}"
            ) from exc
        entities = rows = 0
        watermark: float | None = None
        names = view.feature_names
        for batch in reader:
            entities += _write_batch(online, layout, keys, names, batch)
            newest = pc.max(batch.column("__epoch")).as_py()
            if newest is not None and (watermark is None or newest > watermark):
                watermark = newest
        rows = entities
        return entities, rows, watermark
    finally:
        conn.close()


def _struct(view: FeatureView) -> str:
    fields = ["'__epoch': __p_epoch"] + [f"'{f.name}': __p_{f.name}" for f in view.features]
    return ", ".join(fields)


def _write_batch(
    online: OnlineStore,
    layout: ViewLayout,
    keys: list[str],
    names: list[str],
    batch: pa.RecordBatch,
) -> int:
    key_columns = [batch.column(k).to_pylist() for k in keys]
    key_rows = list(zip(*key_columns, strict=True))
    timestamps = batch.column("__epoch").to_pylist()
    rows = list(zip(*[batch.column(n).to_pylist() for n in names], strict=True))
    return online.write(layout, key_rows, timestamps, rows)
