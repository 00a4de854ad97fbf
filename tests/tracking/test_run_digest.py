"""A run's contents, read in one query at its end, equal what its rows say, and the digest
of the `run.end` event is computed from exactly them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, func, select

from loopml.governance import list_events
from loopml.sdk import Client
from loopml.store.schema import latest_metrics, metrics, params, run_artifacts, run_inputs, tags
from loopml.tracking.key_values import build, document, dump, dump_sorted
from loopml.tracking.run_digest import RunContents, read_contents, summarize

BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_client(request: pytest.FixtureRequest, make_client: Callable[..., Client]) -> Client:
    return make_client(request.param)


def _by_table(conn: Connection, run_id: str) -> dict[str, Any]:
    """The same contents, one plain query per table."""

    def pairs(table: Any, a: str, b: str) -> list[list[Any]]:
        rows = conn.execute(select(table.c[a], table.c[b]).where(table.c.run_id == run_id))
        return sorted([list(r) for r in rows])

    series = conn.execute(
        select(
            metrics.c.key,
            func.count(),
            func.min(metrics.c.value),
            func.max(metrics.c.value),
            func.max(metrics.c.step),
        )
        .where(metrics.c.run_id == run_id)
        .group_by(metrics.c.key)
    )
    return {
        "params": dict(pairs(params, "key", "value")),
        "metrics": dict(pairs(latest_metrics, "key", "value")),
        "tags": dict(pairs(tags, "key", "value")),
        "series": sorted(
            [str(k), int(n), float(lo), float(hi), int(s)] for k, n, lo, hi, s in series
        ),
        "artifacts": pairs(run_artifacts, "path", "digest"),
        "inputs": pairs(run_inputs, "dataset_version_id", "role"),
    }


def test_contents_equal_the_rows_and_the_digest_covers_them(db_client: Client) -> None:
    version = db_client.log_dataset("train", pd.DataFrame({"x": [1.0, 2.0]}))
    with db_client.start_run("exp", capture_code=False) as run:
        run.log_params({"b_depth": 3, "a_rate": 0.1, "Z": "upper first"})
        run.set_tags({"team": "é-unicode", "stage": "dev"})
        for step in range(20):
            run.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.1 + 0.2 * step / 19}, step=step)
        run.log_text("notes", "notes.txt")
        run.log_json({"a": 1}, "conf/b.json")
        run.log_input(version)
    engine = db_client.stores.engine
    with engine.begin() as conn:
        contents = read_contents(conn, run.id)
        expected = _by_table(conn, run.id)
        document = build(conn, run.id)
    assert contents.key_values == document  # the same text the run's row keeps
    assert json.loads(contents.key_values) == contents.document
    assert contents.document == {
        "params": expected["params"],
        "metrics": expected["metrics"],
        "tags": expected["tags"],
    }
    assert contents.metrics == expected["series"]
    assert [row[1] for row in contents.metrics] == [20, 20]
    assert contents.artifacts == expected["artifacts"] and len(contents.artifacts) == 2
    assert contents.inputs == expected["inputs"] == [[version.id, "training"]]

    ended = list_events(engine, obj=run.uri)[-1]
    body = json.dumps(
        [json.loads(document), expected["series"], expected["artifacts"], expected["inputs"]],
        sort_keys=True,
        separators=(",", ":"),
    )
    assert ended.action == "run.end"
    assert ended.details["digest"] == hashlib.sha256(body.encode()).hexdigest()
    assert ended.details == {"status": "FINISHED", **summarize(contents)}


def test_an_empty_run_has_empty_contents(db_client: Client) -> None:
    with db_client.start_run("exp", capture_code=False) as run:
        pass
    with db_client.stores.engine.begin() as conn:
        contents = read_contents(conn, run.id)
    assert (contents.key_values, contents.metrics, contents.artifacts, contents.inputs) == (
        "{}",
        [],
        [],
        [],
    )
    assert summarize(contents)["metric_points"] == 0


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [("p", "b", "2", None), ("p", "a", 'é\u2028"x', None)],
        [("m", "z", None, 0.1), ("m", "ä", None, float("nan")), ("t", "k", "v", None)],
        [("t", "b", "1", None), ("m", "a", None, -1e300), ("p", "c", "", None)],
    ],
)
def test_the_sorted_text_is_what_sorting_every_key_writes(rows: list[Any]) -> None:
    """`dump_sorted` encodes each section once for the stored document and for the digest;
    both texts equal what encoding the whole document gives, and so does the digest."""
    found = document(list(rows))
    stored, ordered = dump_sorted(found)
    assert stored == dump(found)
    assert ordered == json.dumps(found, sort_keys=True, separators=(",", ":"))
    series = [["loss", 2, 0.5, 1.5, 3]]
    with_text = RunContents(found, stored, series, [["a", "d"]], [], ordered)
    without = RunContents(found, stored, series, [["a", "d"]], [])
    assert summarize(with_text) == summarize(without)
