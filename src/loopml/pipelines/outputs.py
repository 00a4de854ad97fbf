"""How step outputs are stored, hashed and passed on.

A dataset version, model version or run passes as a reference: its content hash (dataset
content hash, model manifest digest, run id) is what downstream cache keys see. Plain JSON
values (dicts with text keys, lists, text, numbers, booleans, None) are kept inline as
canonical JSON. Anything else — DataFrames, arrays, fitted estimators — is pickled with
joblib into the content-addressed artifact store; the blob's digest is its hash.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import joblib

from loopml.artifacts.hashing import hash_bytes
from loopml.data import DatasetVersion
from loopml.errors import ValidationError
from loopml.pipelines.context import PipelineClient
from loopml.registry.records import ModelVersion
from loopml.store import Stores
from loopml.tracking import Run, RunRecord

Kind = Literal["json", "pickle", "dataset", "model", "run"]
INLINE_LIMIT = 64 * 1024  # larger JSON values go to the artifact store like pickles


@dataclass(frozen=True)
class StoredOutput:
    """Where a step's output lives and the hash that stands for its content."""

    kind: Kind
    digest: str
    ref: str | None = None  # dataset/model/run id or URI
    value: Any = None  # the JSON value itself when `inline`
    inline: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredOutput:
        return cls(data["kind"], data["digest"], data.get("ref"), data.get("value"), data["inline"])

    @property
    def in_artifact_store(self) -> bool:
        return self.kind in ("json", "pickle") and not self.inline


def is_json(value: Any) -> bool:
    """JSON that reads back as the same value and type (tuples would come back as lists)."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return type(value) is int
    if isinstance(value, float):
        return type(value) is float and math.isfinite(value)
    if type(value) is list:
        return all(is_json(v) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and is_json(v) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def pickle_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    try:
        joblib.dump(value, buffer, compress=0)
    except Exception as exc:
        raise ValidationError(
            f"a step output of type {type(value).__name__} cannot be pickled ({exc}); return "
            "data (a DataFrame, an array, a dict) or a dataset/model/run reference instead"
        ) from exc
    return buffer.getvalue()


def store_output(stores: Stores, value: Any) -> StoredOutput:
    """Store `value` (or record its reference) and return how to reach it again."""
    if isinstance(value, DatasetVersion):
        return StoredOutput("dataset", value.content_hash, value.id)
    if isinstance(value, ModelVersion):
        return StoredOutput("model", value.manifest_digest, value.uri)
    if isinstance(value, Run | RunRecord):
        return StoredOutput("run", hash_bytes(f"run:{value.id}".encode()), value.id)
    if is_json(value):
        data = canonical_json(value)
        if len(data) <= INLINE_LIMIT:
            return StoredOutput("json", hash_bytes(data), None, value, inline=True)
        return StoredOutput("json", stores.artifacts.put_bytes(data).digest)
    return StoredOutput("pickle", stores.artifacts.put_bytes(pickle_bytes(value)).digest)


def load_output(client: PipelineClient, stored: StoredOutput) -> Any:
    """The value a stored output stands for (references are looked up again)."""
    if stored.kind == "dataset":
        return client.dataset_service.get(str(stored.ref))
    if stored.kind == "model":
        return client.models.registry.get_version(str(stored.ref))
    if stored.kind == "run":
        return client.tracking.get_run(str(stored.ref))
    if stored.kind == "json":
        if stored.inline:
            return stored.value
        return json.loads(client.stores.artifacts.read_bytes(stored.digest))
    return joblib.load(io.BytesIO(client.stores.artifacts.read_bytes(stored.digest)))
