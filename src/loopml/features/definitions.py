"""Feature definitions written in Python: entities, feature views, on-demand views, services.

They are plain frozen values. `spec()` turns each into the JSON document the registry
versions, so two definitions are the same version exactly when their specs are equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from loopml.errors import ValidationError
from loopml.validation import check_name

DTYPES = ("float64", "int64", "string", "bool", "timestamp")
_ALIASES = {
    "float": "float64",
    "double": "float64",
    "float32": "float64",
    "int": "int64",
    "int32": "int64",
    "integer": "int64",
    "str": "string",
    "boolean": "bool",
    "datetime": "timestamp",
}
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _column(kind: str, name: Any) -> str:
    """A column or feature name usable unquoted in SQL and as a Python identifier."""
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise ValidationError(
            f"{kind} {name!r} is invalid: use letters, digits and '_', "
            "starting with a letter or '_'"
        )
    return name


def _dtype(feature: str, dtype: Any) -> str:
    value = _ALIASES.get(str(dtype).lower(), str(dtype).lower())
    if value not in DTYPES:
        raise ValidationError(
            f"feature {feature!r} has unknown type {dtype!r}; use one of {', '.join(DTYPES)}"
        )
    return value


@dataclass(frozen=True)
class Feature:
    """One typed feature; `expression` (DuckDB SQL over the source's columns) derives it
    row by row, so the same transformation runs offline and at materialization."""

    name: str
    dtype: str = "float64"
    expression: str | None = None

    def __post_init__(self) -> None:
        _column("feature", self.name)
        object.__setattr__(self, "dtype", _dtype(self.name, self.dtype))

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "expression": self.expression}


def _features(items: Iterable[Feature | str] | Mapping[str, str]) -> tuple[Feature, ...]:
    if isinstance(items, Mapping):
        found = tuple(Feature(name, dtype) for name, dtype in items.items())
    else:
        found = tuple(f if isinstance(f, Feature) else Feature(f) for f in items)
    names = [f.name for f in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationError(f"features must have unique names; repeated: {repeated}")
    return found


@dataclass(frozen=True)
class Entity:
    """What features describe (a station, a customer), identified by its join keys."""

    name: str
    join_keys: tuple[str, ...]
    description: str = ""

    def __init__(self, name: str, join_keys: Sequence[str] | str, description: str = "") -> None:
        keys = (join_keys,) if isinstance(join_keys, str) else tuple(join_keys)
        if not keys:
            raise ValidationError(f"entity {name!r} needs at least one join key")
        object.__setattr__(self, "name", check_name("entity", name))
        object.__setattr__(self, "join_keys", tuple(_column("join key", k) for k in keys))
        object.__setattr__(self, "description", description)

    kind = "entity"

    def spec(self) -> dict[str, Any]:
        return {"join_keys": list(self.join_keys), "description": self.description}


@dataclass(frozen=True)
class FeatureView:
    """Features of entities, read point-in-time correctly from one source.

    `source` is a loopml dataset (`"dataset:bikes"` follows its newest version,
    `"dataset:bikes@3"` pins one) or Parquet files (a path, folder or glob).
    """

    name: str
    entities: tuple[str, ...]
    source: str
    features: tuple[Feature, ...]
    timestamp_column: str = "event_timestamp"
    ttl: timedelta | None = None
    online: bool = True
    description: str = ""

    def __init__(
        self,
        name: str,
        entities: Sequence[Entity | str] | Entity | str,
        source: str,
        features: Iterable[Feature | str] | Mapping[str, str],
        timestamp_column: str = "event_timestamp",
        ttl: timedelta | float | None = None,
        online: bool = True,
        description: str = "",
    ) -> None:
        items = [entities] if isinstance(entities, Entity | str) else list(entities)
        names = tuple(e.name if isinstance(e, Entity) else e for e in items)
        if not names:
            raise ValidationError(f"feature view {name!r} needs at least one entity")
        if not isinstance(source, str) or not source.strip():
            raise ValidationError(
                f"feature view {name!r} needs a source: 'dataset:NAME[@VERSION]' or a Parquet path"
            )
        if isinstance(ttl, int | float) and not isinstance(ttl, bool):
            ttl = timedelta(seconds=ttl)
        if ttl is not None and (not isinstance(ttl, timedelta) or ttl.total_seconds() <= 0):
            raise ValidationError(f"feature view {name!r}: ttl must be a positive timedelta")
        found = _features(features)
        if not found:
            raise ValidationError(f"feature view {name!r} declares no features")
        object.__setattr__(self, "name", check_name("feature view", name))
        object.__setattr__(self, "entities", names)
        object.__setattr__(self, "source", source.strip())
        object.__setattr__(self, "features", found)
        object.__setattr__(self, "timestamp_column", _column("timestamp column", timestamp_column))
        object.__setattr__(self, "ttl", ttl)
        object.__setattr__(self, "online", online)
        object.__setattr__(self, "description", description)

    kind = "view"

    @property
    def ttl_s(self) -> float | None:
        return None if self.ttl is None else self.ttl.total_seconds()

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise ValidationError(
            f"feature view {self.name!r} has no feature {name!r}; it has {self.feature_names}"
        )

    def spec(self) -> dict[str, Any]:
        return {
            "entities": list(self.entities),
            "source": self.source,
            "timestamp_column": self.timestamp_column,
            "features": [f.spec() for f in self.features],
            "ttl_s": self.ttl_s,
            "online": self.online,
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any]) -> FeatureView:
        return cls(
            name,
            spec["entities"],
            spec["source"],
            [Feature(f["name"], f["dtype"], f.get("expression")) for f in spec["features"]],
            timestamp_column=spec["timestamp_column"],
            ttl=spec["ttl_s"],
            online=spec.get("online", True),
            description=spec.get("description", ""),
        )


Transform = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class OnDemandFeatureView:
    """Features computed at request time from request values and other views' features.

    `function` takes a mapping of column name to a numpy array (one item per row) and
    returns a mapping of output feature to an array of the same length. The same function
    runs on training sets and on each online request, so both see identical values. It is
    stored by import path (`module:function`), so it must be importable where it is used.
    """

    name: str
    function: str
    inputs: tuple[str, ...]  # "view:feature" references
    request_fields: tuple[tuple[str, str], ...]  # (name, dtype)
    features: tuple[Feature, ...]
    description: str = ""

    def __init__(
        self,
        name: str,
        function: Transform | str,
        features: Iterable[Feature | str] | Mapping[str, str],
        inputs: Sequence[str] = (),
        request_fields: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        path = function if isinstance(function, str) else _import_path_of(name, function)
        fields = tuple(
            (_column("request field", k), _dtype(k, v)) for k, v in (request_fields or {}).items()
        )
        refs = tuple(inputs)
        for ref in refs:
            parse_feature_ref(ref)
        object.__setattr__(self, "name", check_name("on-demand view", name))
        object.__setattr__(self, "function", path)
        object.__setattr__(self, "inputs", refs)
        object.__setattr__(self, "request_fields", fields)
        object.__setattr__(self, "features", _features(features))
        object.__setattr__(self, "description", description)

    kind = "on_demand"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def spec(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "inputs": list(self.inputs),
            "request_fields": [list(f) for f in self.request_fields],
            "features": [f.spec() for f in self.features],
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any]) -> OnDemandFeatureView:
        return cls(
            name,
            spec["function"],
            [Feature(f["name"], f["dtype"]) for f in spec["features"]],
            inputs=spec["inputs"],
            request_fields={k: v for k, v in spec["request_fields"]},
            description=spec.get("description", ""),
        )


def _import_path_of(name: str, function: Transform) -> str:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise ValidationError(
            f"on-demand view {name!r}: its function must be a module-level function of an "
            "importable module (not a lambda, a nested function or __main__), or 'module:attr'"
        )
    return f"{module}:{qualname}"


@dataclass(frozen=True)
class FeatureService:
    """The features one model uses: `"view:feature"` references, or `"view:*"` for all."""

    name: str
    features: tuple[str, ...]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __init__(self, name: str, features: Sequence[str], description: str = "") -> None:
        refs = tuple(features)
        if not refs:
            raise ValidationError(f"feature service {name!r} lists no features")
        for ref in refs:
            parse_feature_ref(ref)
        object.__setattr__(self, "name", check_name("feature service", name))
        object.__setattr__(self, "features", refs)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "extra", {})

    kind = "service"

    def spec(self) -> dict[str, Any]:
        return {"features": list(self.features), "description": self.description}


Definition = Entity | FeatureView | OnDemandFeatureView | FeatureService
KINDS = ("entity", "view", "on_demand", "service")


def parse_feature_ref(ref: Any) -> tuple[str, str]:
    """`"view:feature"` → (view, feature); `"view:*"` means every feature of the view."""
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise ValidationError(
            f"a feature is named 'view:feature' (or 'view:*' for all of a view), got {ref!r}"
        )
    view, feature = ref.split(":")
    check_name("feature view", view)
    if feature != "*":
        _column("feature", feature)
    return view, feature


def from_spec(kind: str, name: str, spec: Mapping[str, Any]) -> Definition:
    """Rebuild a definition from its stored spec."""
    if kind == "entity":
        return Entity(name, spec["join_keys"], spec.get("description", ""))
    if kind == "view":
        return FeatureView.from_spec(name, spec)
    if kind == "on_demand":
        return OnDemandFeatureView.from_spec(name, spec)
    if kind == "service":
        return FeatureService(name, spec["features"], spec.get("description", ""))
    raise ValidationError(f"unknown definition kind {kind!r}; kinds are {KINDS}")
