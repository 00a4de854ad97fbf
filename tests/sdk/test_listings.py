"""Every listing pages: each row exactly once while rows are inserted between pages, in a
stable order, and page tokens that do not fit are refused clearly — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from loopml import ValidationError
from loopml.governance import append_event
from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.sdk import Client
from loopml.store.paging import Page
from loopml.store.schema import alerts, monitors

BACKENDS = ["sqlite-local", pytest.param("postgres-local", marks=pytest.mark.postgres)]
ROWS = 13
PAGE = 4


@dataclass
class Listing:
    """How to read a listing and add to it."""

    fetch: Callable[[int, str | None], Page[Any]]
    key: Callable[[Any], Any]  # identity of an item
    order: Callable[[Any], Any]  # the sort key the listing promises
    add: Callable[[int, bool], Any]  # insert one row sorting before (True) or after the start
    descending: bool = False


def _walk(listing: Listing, size: int, inserted: list[Any]) -> list[Any]:
    seen, token, round_ = [], None, 0
    while True:
        page = listing.fetch(size, token)
        assert len(page) <= size
        seen += [listing.key(item) for item in page]
        keys = [listing.order(i) for i in page]
        assert keys == sorted(keys, reverse=listing.descending)
        token = page.next_page_token
        if token is None:
            return seen
        for early in (True, False):  # rows on both sides of the position, between pages
            inserted.append(listing.add(1000 + round_ * 2 + early, early))
        round_ += 1


def _datasets(client: Client) -> Listing:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})

    def add(i: int, early: bool) -> Any:
        name = f"{'a' if early else 'z'}-{i:04d}"
        return client.log_dataset(name, frame.assign(x=frame.x + i)).id

    return Listing(
        lambda n, t: client.list_datasets(max_results=n, page_token=t),
        lambda v: v.id,
        lambda v: (v.name, v.version),
        add,
    )


def _model_versions(client: Client) -> Listing:
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) ** 2})
    with client.start_run("listing", capture_code=False) as run:
        run.log_model(LinearRegression().fit(x, x.a * 2 + 1), name="m-00", input_example=x)
    registry = client.models.registry

    def add(i: int, early: bool) -> Any:
        return registry.register_version(f"{'a' if early else 'z'}-{i:04d}", run.id).id

    return Listing(
        lambda n, t: registry.list_versions(max_results=n, page_token=t),
        lambda v: v.id,
        lambda v: (v.model, v.version),
        add,
    )


def _requests(client: Client) -> Listing:
    x = pd.DataFrame({"a": np.arange(20.0)})
    aliases = [f"stage-{i}" for i in range(2000)]
    client.models.registry.create_model("reviewed", protected_aliases=aliases)
    with client.start_run("listing", capture_code=False) as run:
        version = run.log_model(LinearRegression().fit(x, x.a), name="reviewed", input_example=x)
    counter = iter(range(2000))

    def add(_i: int, _early: bool) -> Any:
        return client.models.approvals.request(version.uri, f"stage-{next(counter)}").id

    return Listing(
        lambda n, t: client.models.approvals.list(max_results=n, page_token=t),
        lambda r: r.id,
        lambda r: (r.created_at, r.id),
        add,
    )


def _audit(client: Client) -> Listing:
    def add(i: int, _early: bool) -> Any:
        with client.stores.engine.begin() as conn:
            return append_event(conn, client.principal, "test.listed", f"thing:{i}").seq

    return Listing(
        lambda n, t: client.audit_events(max_results=n, page_token=t),
        lambda e: e.seq,
        lambda e: e.seq,
        add,
        descending=True,  # newest first
    )


def _alerts(client: Client) -> Listing:
    now = time.time()
    with client.stores.engine.begin() as conn:
        conn.execute(
            monitors.insert().values(
                name="watch",
                source={"dataset": "d"},
                config={},
                created_by="test",
                created_at=now,
                updated_at=now,
            )
        )

    def add(i: int, early: bool) -> Any:
        # as the alert service stores them; an early one was opened after the first page's
        # position (newest first), a late one long before
        opened = now + 10_000 + i if early else now - 10_000 - i
        alert_id = f"alert-{uuid.uuid4().hex[:8]}"
        with client.stores.engine.begin() as conn:
            conn.execute(
                alerts.insert().values(
                    id=alert_id,
                    monitor="watch",
                    rule=f"rule-{i}",
                    subject="x",
                    severity="warning",
                    state="open",
                    open_key=None,
                    message="m",
                    occurrences=1,
                    first_result="r",
                    last_result="r",
                    opened_at=opened,
                    last_seen_at=opened,
                )
            )
        return alert_id

    return Listing(
        lambda n, t: client.monitors.alerts.list(max_results=n, page_token=t),
        lambda a: a.id,
        lambda a: (a.opened_at, a.id),
        add,
        descending=True,  # newest first
    )


def _monitor_results(client: Client) -> Listing:
    base = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    client.log_dataset("watched", base)
    client.monitors.create("results", "dataset:watched", columns=["x"])

    def add(i: int, _early: bool) -> Any:
        client.log_dataset("watched", base.assign(x=base.x + (i + 1) / 100))
        [done] = client.monitors.run("results")
        return done.result.id

    return Listing(
        lambda n, t: client.monitors.results("results", max_results=n, page_token=t),
        lambda r: r.id,
        lambda r: r.seq,
        add,
    )


LISTINGS = {
    "dataset versions": _datasets,
    "model versions": _model_versions,
    "approval requests": _requests,
    "audit events": _audit,
    "alerts": _alerts,
    "monitor results": _monitor_results,
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_pages_cover_every_row_once_while_rows_arrive(
    make_client: Callable[..., Client], backend: str, name: str
) -> None:
    client = make_client(backend)
    listing = LISTINGS[name](client)
    before = [listing.add(i, i % 2 == 0) for i in range(ROWS)]
    first = listing.fetch(1000, None)
    everything = [listing.key(item) for item in first]
    assert set(before) <= set(everything) and first.next_page_token is None
    inserted: list[Any] = []
    seen = _walk(listing, PAGE, inserted)
    assert len(seen) == len(set(seen)), "a row was shown twice"
    assert set(everything) <= set(seen), "a row that existed before the first page was skipped"
    assert set(seen) <= set(everything) | set(inserted)
    assert inserted  # rows really arrived between pages


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_page_tokens_are_refused_clearly(
    make_client: Callable[..., Client], backend: str
) -> None:
    client = make_client(backend)
    frame = pd.DataFrame({"x": [1.0]})
    for i in range(3):
        client.log_dataset(f"d{i}", frame.assign(x=float(i)))
    token = client.list_datasets(max_results=1).next_page_token
    assert token is not None
    with pytest.raises(ValidationError, match="not one this store issued"):
        client.list_datasets(max_results=1, page_token="garbage!")
    with pytest.raises(ValidationError, match="not one this store issued"):
        client.list_datasets(max_results=1, page_token=token[:-6])
    with pytest.raises(ValidationError, match="other filters of dataset versions"):
        client.list_datasets("d1", max_results=1, page_token=token)
    with pytest.raises(ValidationError, match="not a token of model versions"):
        client.models.registry.list_versions(page_token=token)
    crafted = _edited(token, lambda a: [a[0], "not a number"])
    with pytest.raises(ValidationError, match="damaged or edited"):
        client.list_datasets(max_results=1, page_token=crafted)
    for bad in (0, -1, 50_001, True, "10"):
        with pytest.raises(ValidationError, match="max_results must be an integer"):
            client.list_datasets(max_results=bad)  # type: ignore[arg-type]


def _edited(token: str, change: Callable[[list[Any]], list[Any]]) -> str:
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body["a"] = change(body["a"])
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_prediction_log_window_pages_survive_flushes_and_compaction(
    make_client: Callable[..., Client], backend: str
) -> None:
    client = make_client(backend)
    log = PredictionLog(client.stores, flush_rows=10**9)
    t0 = 1_700_000_000.0

    def record(request_id: str, at: float, rows: int = 1) -> None:
        log.record(
            PredictionRecord(
                deployment="api",
                request_id=request_id,
                model="model:m/1",
                inputs=[{"x": float(r)} for r in range(rows)],
                outputs=[float(r) for r in range(rows)],
                probabilities=None,
                latency_ms=1.0,
                shadow=False,
                at=at,
            )
        )
        log.record_feedback("api", request_id, 1.0, at=at + 1)

    for i in range(60):
        record(f"r{i:03d}", t0 + i * 60, rows=1 + i % 3)  # an hour, multi-row requests
        if i % 7 == 0:
            log.flush()  # several small segments
    log.flush()
    expected = log.predictions("api", since=t0 + 600)
    keys = list(zip(expected.request_id, expected.row, strict=True))
    seen, token, round_ = [], None, 0
    while True:
        page = log.page("api", since=t0 + 600, max_rows=17, page_token=token)
        seen += list(zip(page.frame.request_id, page.frame.row, strict=True))
        token = page.next_page_token
        if token is None:
            break
        record(f"late-{round_}", t0 + 601 + round_)  # before the position: not shown
        record(f"new-{round_}", t0 + 7200 + round_)  # after it: shown once
        log.flush()
        if round_ == 2:
            report = log.compact("api", min_age_s=0, now=t0 + 10 * 86_400)
            assert report.segments_in > report.segments_out > 0
        round_ += 1
    assert len(seen) == len(set(seen))
    assert set(keys) <= set(seen)
    assert {r for r, _ in set(seen) - set(keys)} <= {f"new-{i}" for i in range(round_)}
    labelled = log.page("api", since=t0, labelled=True, max_rows=5)
    assert list(labelled.frame.columns[-2:]) == ["label", "label_time"]
    with pytest.raises(ValidationError, match="other filters of prediction log windows"):
        log.page("api", since=t0, page_token=page_token_of(log, t0 + 600))
    with pytest.raises(ValidationError, match="max_rows must be an integer"):
        log.page("api", max_rows=0)
    log.close()


def page_token_of(log: PredictionLog, since: float) -> str:
    token = log.page("api", since=since, max_rows=1).next_page_token
    assert token is not None
    return token
