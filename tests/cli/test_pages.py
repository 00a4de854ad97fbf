"""Listing commands page: --limit, the printed --page-token, --all, JSON with the token on
stderr, and a clear error for a token that does not fit; `loopml log` reads and compacts."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from loopml.prediction_log import PredictionLog, PredictionRecord
from loopml.sdk import Client
from tests.cli.helpers import Invoke, table_rows, user_error

TOKEN = re.compile(r"--page-token (\S+)")
T0 = 1_764_583_200.0  # 2025-12-01 10:00 UTC


@pytest.fixture
def five_versions(client: Client) -> list[str]:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    return [client.log_dataset("bikes", frame.assign(x=frame.x + i)).uri for i in range(5)]


def _token(text: str) -> str:
    found = TOKEN.search(text)
    assert found, text
    return found.group(1)


def test_data_list_pages_and_continues(cli: Invoke, five_versions: list[str]) -> None:
    first = cli("data", "list", "--limit", "2")
    assert first.exit_code == 0, first.output
    assert [r[0] for r in table_rows(first.stdout)] == five_versions[:2]
    second = cli("data", "list", "--limit", "2", "--page-token", _token(first.stdout))
    assert [r[0] for r in table_rows(second.stdout)] == five_versions[2:4]
    last = cli("data", "list", "--limit", "2", "--page-token", _token(second.stdout))
    assert [r[0] for r in table_rows(last.stdout)] == five_versions[4:]
    assert "--page-token" not in last.stdout
    every = cli("data", "list", "--all")
    assert [r[0] for r in table_rows(every.stdout)] == five_versions
    paged = cli("data", "list", "--limit", "3", "--json")
    assert [v["uri"] for v in json.loads(paged.stdout)] == five_versions[:3]
    rest = cli("data", "list", "--json", "--page-token", _token(paged.stderr))
    assert [v["uri"] for v in json.loads(rest.stdout)] == five_versions[3:]
    assert [v["uri"] for v in json.loads(cli("data", "list", "--all", "--json").stdout)] == (
        five_versions
    )


def test_bad_tokens_and_limits_are_user_errors(cli: Invoke, five_versions: list[str]) -> None:
    token = _token(cli("data", "list", "--limit", "1").stdout)
    user_error(cli("data", "list", "--page-token", "nonsense"), "not one this store issued")
    user_error(cli("data", "list", "other", "--page-token", token), "other filters")
    user_error(cli("models", "requests", "--page-token", token), "not a token of approval")
    user_error(cli("audit", "log", "--json", "--page-token", token), "not a token of audit")
    user_error(cli("data", "list", "--limit", "60000"), "--limit must be at most 50,000")
    assert cli("data", "list", "--limit", "0").exit_code == 2


def test_audit_log_pages_back_in_time(cli: Invoke, five_versions: list[str]) -> None:
    everything = json.loads(cli("audit", "log", "--all", "--oldest-first", "--json").stdout)
    seqs = [e["seq"] for e in everything]
    assert seqs == list(range(1, len(seqs) + 1))
    newest = cli("audit", "log", "--limit", "2")
    assert [int(r[0]) for r in table_rows(newest.stdout)] == seqs[-2:]
    before = cli("audit", "log", "--limit", "2", "--page-token", _token(newest.stdout))
    assert [int(r[0]) for r in table_rows(before.stdout)] == seqs[-4:-2]
    forward = cli("audit", "log", "--oldest-first", "--limit", "2")
    assert [int(r[0]) for r in table_rows(forward.stdout)] == seqs[:2]


def test_monitor_results_newest_first(cli: Invoke, client: Client) -> None:
    base = pd.DataFrame({"x": np.linspace(0.0, 1.0, 40)})
    client.log_dataset("watched", base)
    client.monitors.create("watch", "dataset:watched", columns=["x"])
    for i in range(3):
        client.log_dataset("watched", base.assign(x=base.x + i + 1))
    assert len(client.monitors.run("watch")) == 3
    newest = cli("monitor", "results", "watch", "--newest", "--limit", "2")
    assert [r[0] for r in table_rows(newest.stdout)] == ["3", "2"]
    older = cli("monitor", "results", "watch", "--newest", "--page-token", _token(newest.stdout))
    assert [r[0] for r in table_rows(older.stdout)] == ["1"]
    in_order = json.loads(cli("monitor", "results", "watch", "--all", "--json").stdout)
    assert [r["seq"] for r in in_order] == [1, 2, 3]
    user_error(
        cli("monitor", "results", "watch", "--page-token", _token(newest.stdout)),
        "not a token of monitor results",
    )


def _logged(client: Client) -> None:
    log = PredictionLog(client.stores, flush_rows=10**9)
    for i in range(12):
        log.record(
            PredictionRecord(
                "bikes",
                f"r{i}",
                "model:bikes/3",
                [{"temp": i}],
                [float(i)],
                None,
                1.0,
                at=T0 + i * 600,
            )
        )
        if i % 3 == 0:
            log.record_feedback("bikes", f"r{i}", float(i) + 0.5, at=T0 + i * 600 + 30)
        log.flush()  # one small segment per request
    log.close()


def test_log_predictions_pages_a_window(cli: Invoke, client: Client) -> None:
    _logged(client)
    window = ["--since", "2025-12-01T10:00", "--until", str(T0 + 3600)]
    first = cli("log", "predictions", "bikes", *window, "--limit", "4")
    assert first.exit_code == 0, first.output
    assert [r[1] for r in table_rows(first.stdout)] == ["r0", "r1", "r2", "r3"]
    rest = cli("log", "predictions", "bikes", *window, "--page-token", _token(first.stdout))
    assert [r[1] for r in table_rows(rest.stdout)] == ["r4", "r5"]
    rows = [
        json.loads(line)
        for line in cli(
            "log", "predictions", "bikes", "--labelled", "--all", "--json"
        ).stdout.splitlines()
    ]
    assert [(r["request_id"], r["label"]) for r in rows] == [
        ("r0", 0.5),
        ("r3", 3.5),
        ("r6", 6.5),
        ("r9", 9.5),
    ]
    user_error(cli("log", "predictions", "bikes", "--since", "yesterday"), "is not a time")
    user_error(
        cli("log", "predictions", "bikes", "--page-token", _token(first.stdout)), "other filters"
    )
    assert "no flushed predictions" in cli("log", "predictions", "nobody").stdout


def test_log_compact_merges_and_keeps_every_row(cli: Invoke, client: Client) -> None:
    _logged(client)
    before = cli("log", "predictions", "bikes", "--all", "--json").stdout
    report = json.loads(cli("log", "compact", "bikes", "--min-age", "0", "--json").stdout)
    assert report["segments_in"] == 12 + 4 and report["segments_out"] == 2 + 1
    assert cli("log", "predictions", "bikes", "--all", "--json").stdout == before
    again = cli("log", "compact", "--min-age", "0")
    assert again.stdout.startswith("compacted: 0 segments")
    user_error(cli("log", "compact", "--partition", "7m"), "divides a day")
    user_error(cli("log", "compact", "--partition", "soon"), "is not a duration")
