"""Step cache keys, and the `step_cache` table that maps a key to a stored output.

key = BLAKE3 over the canonical JSON of {code fingerprint, bound arguments}, where each
argument that is another step's output is replaced by that output's content hash, a
dataset/model version by its content hash, a `dataset:` reference by the content hash of
the version it resolves to now, and any other non-JSON value by the hash of its pickle.
Names (of the step, the pipeline) are not part of the key: the same code on the same
inputs gives the same result whichever pipeline runs it.

A step may also resolve datasets inside its body (`load_dataset("bikes")`). Those reads
are recorded with the entry; a floating reference that resolves to other content now
makes the entry stale, so a new dataset version is never answered with old rows. Feature
definitions it resolved (building a training set from a feature service) are recorded the
same way: a newer version of one of them makes the entry stale too.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loopml.artifacts.hashing import hash_bytes
from loopml.data import DatasetRead, DatasetService, DatasetVersion
from loopml.errors import NotFoundError
from loopml.features.reads import MARK, DefinitionRead, stale_definitions
from loopml.features.registry import FeatureRegistry
from loopml.governance import append_event, require
from loopml.pipelines.graph import StepOutput
from loopml.pipelines.outputs import StoredOutput, canonical_json, is_json, pickle_bytes
from loopml.pipelines.steps import Step
from loopml.registry.records import ModelVersion
from loopml.store import Stores
from loopml.store.schema import step_cache
from loopml.tracking import Run, RunRecord

KEY_VERSION = 1  # bump when the recipe below changes, so old entries stop matching


DATASET_SCHEME = "dataset:"


def canonical_arguments(
    step: Step,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    input_hash: Callable[[StepOutput], str],
    datasets: DatasetService | None = None,
) -> dict[str, Any]:
    """The step's bound arguments (defaults applied) as JSON that only content determines.
    With `datasets`, a `dataset:NAME[@V]` string counts by the content it resolves to."""
    bound = inspect.signature(step.fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return {
        name: _canonical(value, input_hash, datasets) for name, value in bound.arguments.items()
    }


def _canonical(
    value: Any, input_hash: Callable[[StepOutput], str], datasets: DatasetService | None = None
) -> Any:
    if isinstance(value, StepOutput):
        return {"$input": input_hash(value)}
    if isinstance(value, DatasetVersion):
        return {"$dataset": value.content_hash}
    if datasets is not None and isinstance(value, str) and value.startswith(DATASET_SCHEME):
        return {"$dataset": datasets.get(value).content_hash}
    if isinstance(value, ModelVersion):
        return {"$model": value.manifest_digest}
    if isinstance(value, Run | RunRecord):
        return {"$run": value.id}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": repr(value)}
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if type(value) is list:
        return [_canonical(v, input_hash, datasets) for v in value]
    if type(value) is tuple:
        return {"$tuple": [_canonical(v, input_hash, datasets) for v in value]}
    if type(value) is dict and all(isinstance(k, str) for k in value):
        return {k: _canonical(v, input_hash, datasets) for k, v in value.items()}
    if isinstance(value, set | frozenset) and is_json(sorted(value, key=repr)):
        return {"$set": sorted(value, key=repr)}
    return {"$pickle": hash_bytes(pickle_bytes(value))}


def cache_key(code: str, arguments: dict[str, Any]) -> str:
    return hash_bytes(canonical_json({"v": KEY_VERSION, "code": code, "arguments": arguments}))


@dataclass(frozen=True)
class CacheEntry:
    key: str
    pipeline: str
    step: str
    output: StoredOutput
    run_id: str
    created_at: float
    reads: tuple[DatasetRead, ...] = ()
    definitions: tuple[DefinitionRead, ...] = ()

    def stale_reads(
        self, datasets: DatasetService, registry: FeatureRegistry | None = None
    ) -> list[str]:
        """The floating references that resolve to other content now, and the feature
        definitions with a newer version now, described."""
        stale = stale_definitions(registry, self.definitions) if registry is not None else []
        for read in self.reads:
            if read.pinned:
                continue
            try:
                now = datasets.get(read.ref)
            except NotFoundError:
                stale.append(f"{read.ref} no longer resolves (was {read.uri})")
                continue
            if now.content_hash != read.content_hash:
                stale.append(f"{read.ref} is {now.uri} now (was {read.uri})")
        return stale


class StepCache:
    """Look up and record step outputs by cache key."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = stores.engine

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry for `key`, unless its stored output has gone missing."""
        with self.engine.connect() as conn:
            row = conn.execute(select(step_cache).where(step_cache.c.key == key)).first()
        if row is None:
            return None
        output = StoredOutput.from_dict(row.output)
        if output.in_artifact_store and not self.stores.artifacts.exists(output.digest):
            return None
        stored = row.reads or ()
        reads = tuple(DatasetRead.from_dict(r) for r in stored if MARK not in r)
        definitions = tuple(DefinitionRead.from_dict(r) for r in stored if MARK in r)
        return CacheEntry(
            row.key, row.pipeline, row.step, output, row.run_id, row.created_at, reads, definitions
        )

    def record(
        self,
        key: str,
        *,
        pipeline: str,
        step: str,
        output: StoredOutput,
        run_id: str,
        reads: tuple[DatasetRead, ...] = (),
        definitions: tuple[DefinitionRead, ...] = (),
    ) -> None:
        """Remember that `run_id` produced `output` for `key`. The first writer wins, unless
        the stored entry's reads differ from these (it went stale and was recomputed)."""
        actor = self.stores.actor
        require(actor, "write", "cache pipeline step outputs")
        values = {
            "pipeline": pipeline,
            "step": step,
            "output": output.to_dict(),
            "reads": [r.to_dict() for r in reads] + [d.to_dict() for d in definitions] or None,
            "run_id": run_id,
            "created_by": actor.name,
            "created_at": time.time(),
        }
        try:
            with self.engine.begin() as conn:
                found = conn.execute(
                    select(step_cache.c.reads).where(step_cache.c.key == key)
                ).first()
                if found is not None and (found.reads or None) == values["reads"]:
                    return
                if found is None:
                    conn.execute(step_cache.insert().values(key=key, **values))
                else:
                    conn.execute(step_cache.update().where(step_cache.c.key == key).values(values))
                append_event(
                    conn,
                    actor,
                    "pipeline.step.cache",
                    f"run:{run_id.removeprefix('run-')}",
                    {
                        "pipeline": pipeline,
                        "step": step,
                        "key": key,
                        "digest": output.digest,
                        "reads": [r.uri for r in reads] + [d.label for d in definitions],
                        "replaced": found is not None,
                    },
                )
        except IntegrityError:  # recorded concurrently by another run of the same step
            return

    def forget(self, pipeline: str, step: str | None = None) -> int:
        """Drop the cache entries of a pipeline (or one of its steps); returns how many."""
        actor = self.stores.actor
        require(actor, "write", "clear the pipeline step cache")
        condition = step_cache.c.pipeline == pipeline
        if step is not None:
            condition = condition & (step_cache.c.step == step)
        with self.engine.begin() as conn:
            count = conn.execute(step_cache.delete().where(condition)).rowcount
            append_event(
                conn,
                actor,
                "pipeline.cache.clear",
                f"pipeline:{pipeline}",
                {"step": step, "entries": count},
            )
        return int(count)
