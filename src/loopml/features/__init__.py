"""The feature store: definitions, point-in-time training sets, online values."""

from loopml.features.definitions import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)
from loopml.features.loader import load_definitions
from loopml.features.materialize import MaterializationRun
from loopml.features.offline import HistoricalFeatures
from loopml.features.registry import Change
from loopml.features.rows import ViewRows
from loopml.features.service import FeatureStore, Freshness
from loopml.features.training import TrainingSet

__all__ = [
    "Change",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Freshness",
    "HistoricalFeatures",
    "MaterializationRun",
    "OnDemandFeatureView",
    "TrainingSet",
    "ViewRows",
    "load_definitions",
]
