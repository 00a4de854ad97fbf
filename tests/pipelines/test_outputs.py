"""Outputs: JSON inline, other values pickled by content, references by their hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.errors import ValidationError
from loopml.pipelines.outputs import is_json, load_output, store_output
from loopml.sdk import Client


def test_json_stays_inline_and_round_trips(client: Client) -> None:
    stored = store_output(client.stores, {"a": [1, 2.5, None, True]})
    assert stored.kind == "json" and stored.inline
    assert load_output(client, stored) == {"a": [1, 2.5, None, True]}
    assert store_output(client.stores, {"a": [1, 2.5, None, True]}).digest == stored.digest


def test_tuples_and_frames_are_pickled_by_content(client: Client) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    stored = store_output(client.stores, frame)
    assert stored.kind == "pickle"
    assert client.stores.artifacts.exists(stored.digest)
    assert store_output(client.stores, frame.copy()).digest == stored.digest
    pd.testing.assert_frame_equal(load_output(client, stored), frame)
    assert load_output(client, store_output(client.stores, (1, 2))) == (1, 2)
    assert not is_json((1, 2)) and not is_json(float("nan")) and not is_json({1: 2})


def test_dataset_versions_pass_as_references(client: Client) -> None:
    version = client.log_dataset("numbers", pd.DataFrame({"x": [1, 2, 3]}))
    stored = store_output(client.stores, version)
    assert (stored.kind, stored.digest, stored.ref) == ("dataset", version.content_hash, version.id)
    assert load_output(client, stored) == version


def test_runs_pass_as_references(client: Client) -> None:
    with client.start_run("refs") as run:
        pass
    stored = store_output(client.stores, run)
    assert stored.kind == "run"
    assert load_output(client, stored).id == run.id


def test_unpicklable_outputs_say_what_to_return(client: Client) -> None:
    with pytest.raises(ValidationError, match="cannot be pickled"):
        store_output(client.stores, np.array([lambda: 1]))
    with pytest.raises(ValidationError, match="cannot be pickled"):
        store_output(client.stores, lambda: 1)
