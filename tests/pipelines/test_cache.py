"""Cache keys: code, parameters and input content hashes; entries and their audit trail."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from loopml.pipelines import StepOutput, StoredOutput, cache_key
from loopml.pipelines.cache import StepCache, canonical_arguments
from loopml.sdk import Client
from loopml.store.schema import audit_events
from tests.pipelines import sample_pipelines as sp


def _hash(output: StepOutput) -> str:
    return {"a": "1" * 64, "b": "2" * 64}[output.node]


def test_arguments_are_bound_with_defaults_and_inputs_become_their_hashes() -> None:
    arguments = canonical_arguments(sp.train, (0.1,), {"depth": 3}, _hash)
    assert arguments == {"alpha": 0.1, "depth": 3, "offset": 0.0}

    with_input = canonical_arguments(sp.featurize, (StepOutput("a"),), {}, _hash)
    assert with_input == {"frame": {"$input": "1" * 64}, "marker_dir": None}


def test_the_key_changes_with_code_params_and_input_content() -> None:
    base = cache_key("code", canonical_arguments(sp.featurize, (StepOutput("a"),), {}, _hash))
    assert base == cache_key(
        "code", canonical_arguments(sp.featurize, (StepOutput("a"),), {}, _hash)
    )
    assert base != cache_key(
        "other", canonical_arguments(sp.featurize, (StepOutput("a"),), {}, _hash)
    )
    assert base != cache_key(
        "code", canonical_arguments(sp.featurize, (StepOutput("b"),), {}, _hash)
    )
    assert base != cache_key(
        "code", canonical_arguments(sp.featurize, (StepOutput("a"), "/tmp"), {}, _hash)
    )


def test_non_json_arguments_hash_by_content() -> None:
    one = canonical_arguments(sp.train, (np.array([1.0]), 3), {}, _hash)
    same = canonical_arguments(sp.train, (np.array([1.0]), 3), {}, _hash)
    other = canonical_arguments(sp.train, (np.array([2.0]), 3), {}, _hash)
    assert one == same != other
    assert canonical_arguments(sp.train, ((1, 2), float("nan")), {}, _hash) == {
        "alpha": {"$tuple": [1, 2]},
        "depth": {"$float": "nan"},
        "offset": 0.0,
    }


def test_entries_are_recorded_once_with_an_audit_event(client: Client) -> None:
    cache = StepCache(client.stores)
    with client.start_run("etl") as run:
        pass
    output = StoredOutput("json", "d" * 64, value=1, inline=True)
    assert cache.lookup("k" * 64) is None

    cache.record("k" * 64, pipeline="etl", step="load", output=output, run_id=run.id)
    cache.record("k" * 64, pipeline="etl", step="load", output=output, run_id=run.id)

    entry = cache.lookup("k" * 64)
    assert entry is not None and entry.output == output and entry.run_id == run.id
    with client.stores.engine.connect() as conn:
        actions = conn.execute(select(audit_events.c.action)).scalars().all()
    assert actions.count("pipeline.step.cache") == 1
    assert cache.forget("etl") == 1
    assert cache.lookup("k" * 64) is None


def test_an_entry_whose_blob_is_gone_is_a_miss(client: Client) -> None:
    cache = StepCache(client.stores)
    with client.start_run("etl") as run:
        pass
    cache.record(
        "m" * 64,
        pipeline="etl",
        step="load",
        output=StoredOutput("pickle", "0" * 64),
        run_id=run.id,
    )
    assert cache.lookup("m" * 64) is None
