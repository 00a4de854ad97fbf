"""`FeatureStore`: the feature store's one service — definitions, training sets, online values.

The CLI, the SDK and serving all go through it; it holds the rules, the modules it calls hold
the mechanics (registry, offline joins, materialization, online lookups).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from loopml.data import DatasetService, DatasetVersion
from loopml.errors import ValidationError
from loopml.features.definitions import Definition, FeatureView
from loopml.features.lookup import OnlineLookup
from loopml.features.materialize import (
    MaterializationRun,
    last_run,
    layout_of,
    materialize_view,
    runs,
)
from loopml.features.offline import (
    EntityInput,
    HistoricalFeatures,
    get_historical_features,
    open_duckdb,
)
from loopml.features.online import OnlineStore, ViewLayout, open_online_store
from loopml.features.registry import Change, FeatureRegistry
from loopml.features.rows import ViewRows
from loopml.features.selection import Selection, select_features
from loopml.features.sources import (
    SourceFiles,
    dataset_source,
    resolve_source,
    source_columns,
)
from loopml.features.training import TrainingSet, training_set
from loopml.governance import append_event
from loopml.store import Stores
from loopml.store.schema import feature_training_sets

LOOKUP_CACHE_S = 5.0  # how long an online lookup plan is reused before the registry is re-read


@dataclass(frozen=True)
class Freshness:
    """How current a view's online values are."""

    view: str
    materialized_at: float | None  # end of the last successful run
    watermark: float | None  # newest event time online
    age_s: float | None  # since the last successful run
    lag_s: float | None  # now minus the newest event time online
    last_status: str | None


class FeatureStore:
    """Define, join, materialize and serve features over one workspace's stores."""

    def __init__(self, stores: Stores, online_url: str | None = None) -> None:
        self.stores = stores
        self.registry = FeatureRegistry(stores)
        self.datasets = DatasetService(stores)
        self.online_url = online_url or stores.settings.online_store_url
        self._online: OnlineStore | None = None
        self._lookups: dict[tuple[str, ...] | str, tuple[float, OnlineLookup]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ definitions
    def plan(self, definitions: Iterable[Definition]) -> list[Change]:
        return self.registry.plan(definitions)

    def apply(self, definitions: Iterable[Definition]) -> list[Change]:
        changes = self.registry.apply(definitions)
        with self._lock:
            self._lookups.clear()
        return changes

    # ------------------------------------------------------------------ offline
    def select(self, features: Sequence[str] | str) -> Selection:
        return select_features(self.registry, features)

    def sources(self, selection: Selection) -> list[SourceFiles]:
        return [resolve_source(self.stores, v.view) for v in selection.views]

    def get_historical_features(
        self,
        entities: EntityInput,
        features: Sequence[str] | str,
        *,
        timestamp_column: str = "event_timestamp",
        output: str | Path | None = None,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> HistoricalFeatures:
        """Point-in-time correct features for every entity row (see `features.offline`)."""
        selection = self.select(features)
        return get_historical_features(
            self.stores,
            selection,
            self.sources(selection),
            entities,
            timestamp_column=timestamp_column,
            output=output,
            memory_limit=memory_limit,
            threads=threads,
        )

    def log_training_set(
        self,
        result: HistoricalFeatures,
        name: str,
        *,
        description: str | None = None,
        time_column: str | None = None,
        parent: str | None = None,
    ) -> DatasetVersion:
        """Version the training set as a dataset whose lineage names every view, its version
        and the dataset version it was read from (`parent`: the entity rows' dataset)."""
        data: Any = result.table if result.table is not None else result.path
        version = self.datasets.log(
            name,
            data,
            description=description or "training set built from feature views",
            time_column=time_column,
            parent=parent,
        )
        views = [
            {
                "view": chosen.view.name,
                "version": chosen.version,
                "features": list(chosen.features),
                "source": source.uri,
                "dataset_version_id": source.dataset.id if source.dataset else None,
            }
            for chosen, source in zip(result.selection.views, result.sources, strict=True)
        ]
        views += [
            {
                "on_demand": o.view.name,
                "version": o.version,
                "features": list(o.features),
                "function": o.view.function,
            }
            for o in result.selection.on_demand
        ]
        with self.stores.engine.begin() as conn:
            exists = conn.execute(
                select(feature_training_sets.c.dataset_version_id).where(
                    feature_training_sets.c.dataset_version_id == version.id
                )
            ).first()
            if exists is None:
                conn.execute(
                    feature_training_sets.insert().values(
                        dataset_version_id=version.id,
                        service=result.selection.service,
                        features=list(result.selection.refs),
                        views=views,
                        rows=result.rows,
                        missing=result.missing,
                        created_by=self.stores.actor.name,
                        created_at=time.time(),
                    )
                )
                append_event(
                    conn,
                    self.stores.actor,
                    "features.training_set",
                    version.uri,
                    {"service": result.selection.service, "views": [v.get("view") for v in views]},
                )
        return version

    def training_set(
        self,
        service: str,
        entities: EntityInput | DatasetVersion,
        *,
        name: str | None = None,
        timestamp_column: str | None = None,
        description: str | None = None,
        memory_limit: str = "1GB",
    ) -> TrainingSet:
        """A feature service's training set for `entities`, logged as a dataset version
        with lineage (see `features.training`)."""
        return training_set(
            self,
            service,
            entities,
            name=name,
            timestamp_column=timestamp_column,
            description=description,
            memory_limit=memory_limit,
        )

    def training_set_lineage(self, ref: str | DatasetVersion) -> dict[str, Any] | None:
        """The views (and their dataset versions) a logged training set was built from."""
        version = self.datasets.get(ref)
        with self.stores.engine.connect() as conn:
            row = conn.execute(
                select(feature_training_sets).where(
                    feature_training_sets.c.dataset_version_id == version.id
                )
            ).first()
        return dict(row._mapping) if row else None

    # ------------------------------------------------------------------ online
    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            self._online = open_online_store(self.online_url, self.stores.settings.root)
        return self._online

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        incremental: bool = False,
        end: float | None = None,
        memory_limit: str = "1GB",
    ) -> list[MaterializationRun]:
        """Latest values per entity into the online store: every online view, or `views`."""
        names = (
            list(views)
            if views
            else [
                s.name
                for s in self.registry.latest("view").values()
                if isinstance(s.definition, FeatureView) and s.definition.online
            ]
        )
        if not names:
            raise ValidationError("no feature views to materialize; apply some first")
        done = []
        for name in names:
            stored = self.registry.get("view", name)
            view = stored.definition
            assert isinstance(view, FeatureView)
            keys = self._keys(view)
            done.append(
                materialize_view(
                    self.stores,
                    self.online,
                    view,
                    stored.version,
                    keys,
                    resolve_source(self.stores, view),
                    incremental=incremental,
                    end=end,
                    memory_limit=memory_limit,
                )
            )
        with self._lock:
            self._lookups.clear()
        return done

    def _keys(self, view: FeatureView) -> list[str]:
        keys: list[str] = []
        for entity in view.entities:
            keys += [k for k in self.registry.entity(entity).join_keys if k not in keys]
        return keys

    def lookup(self, features: Sequence[str] | str) -> OnlineLookup:
        """A reusable online plan for `features` (cached for a few seconds)."""
        cache_key = features if isinstance(features, str) else tuple(features)
        now = time.monotonic()
        cached = self._lookups.get(cache_key)
        if cached is not None and now - cached[0] < LOOKUP_CACHE_S:
            return cached[1]
        selection = self.select(features)
        layouts: dict[str, ViewLayout] = {}
        conn = open_duckdb("256MB", 1, None)
        try:
            for chosen in selection.views:
                source = resolve_source(self.stores, chosen.view)
                layouts[chosen.view.name] = layout_of(
                    chosen.view, list(chosen.keys), source_columns(conn, source)
                )
        finally:
            conn.close()
        made = OnlineLookup(selection, self.online, layouts)
        with self._lock:
            self._lookups[cache_key] = (now, made)
        return made

    def get_online_features(
        self,
        entity_rows: Sequence[Mapping[str, Any]],
        features: Sequence[str] | str,
    ) -> dict[str, list[Any]]:
        """The latest values (within TTL) for each entity row; one read of the online store."""
        return self.lookup(features).get(entity_rows)

    # ------------------------------------------------------------------ discovery
    def rows(self, view: str, *, dataset: str | DatasetVersion | None = None) -> ViewRows:
        """Where `view`'s rows come from now, or from one `dataset` version instead of its
        source (a monitor's reference); NotFoundError for an unknown view."""
        stored = self.registry.get("view", view)
        definition = stored.definition
        assert isinstance(definition, FeatureView)
        if dataset is None:
            source = resolve_source(self.stores, definition)
        else:
            source = dataset_source(self.datasets, self.datasets.get(dataset))
        return ViewRows(definition, stored.version, tuple(self._keys(definition)), source)

    def source_newest(self, view: str) -> float | None:
        """The newest event time in `view`'s source now (epoch seconds; None: no rows)."""
        rows = self.rows(view)
        conn = open_duckdb("256MB", 1, None)
        try:
            return rows.newest(conn)
        finally:
            conn.close()

    def freshness(self, view: str, now: float | None = None) -> Freshness:
        now = time.time() if now is None else now
        done = last_run(self.stores, view)
        recent = runs(self.stores, view, 1)
        return Freshness(
            view=view,
            materialized_at=done.finished_at if done else None,
            watermark=done.watermark if done else None,
            age_s=now - done.finished_at if done and done.finished_at else None,
            lag_s=now - done.watermark if done and done.watermark is not None else None,
            last_status=recent[0].status if recent else None,
        )

    def runs(self, view: str | None = None, limit: int = 20) -> list[MaterializationRun]:
        return runs(self.stores, view, limit)

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None
