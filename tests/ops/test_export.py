"""`loopml ops export`: the alerting rules pass promtool (where it is installed), and every
metric the rules and the dashboard name is exposed on `/metrics` of a live `loopml serve`
and a live `loopml server`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from loopml.cli import app
from loopml.config import init_workspace
from loopml.errors import ValidationError
from loopml.events import WebhookDispatcher
from loopml.ops import (
    DASHBOARD_FILE,
    RULES_FILE,
    export_ops,
    expressions,
    server_names,
    serving_names,
)
from loopml.ops.names import SUFFIXES
from loopml.sdk import Client
from loopml.server.store_metrics import StoreCollector
from tests.deployments.helpers import bike_hours, open_traffic, register_ridge
from tests.server.live import START_TIMEOUT_S, LiveServer, cli_environment, free_port

METRIC = re.compile(r"\bloopml_[a-z0-9_]+\b")
BUILT_IN = {"up"}  # set by Prometheus itself for every scrape target
Exported = tuple[dict[str, Any], dict[str, Any], Path]


@pytest.fixture
def exported(tmp_path: Path) -> Exported:
    out = tmp_path / "ops"
    result = CliRunner().invoke(app, ["ops", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(16 alerts)" in result.stdout
    rules = yaml.safe_load((out / RULES_FILE).read_text())
    board = json.loads((out / DASHBOARD_FILE).read_text())
    return rules, board, out


def _rule_expressions(rules: dict[str, Any]) -> list[str]:
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def _referenced(texts: list[str]) -> set[str]:
    return {name for text in texts for name in METRIC.findall(text)}


def test_the_rules_are_valid_alerting_rules(exported: Exported) -> None:
    rules, board, _ = exported
    groups = rules["groups"]
    assert [g["name"] for g in groups] == ["loopml-serving", "loopml-control-plane"]
    for rule in (r for g in groups for r in g["rules"]):
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"Loopml[A-Za-z0-9]+", rule["alert"])
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert re.fullmatch(r"\d+[mh]", rule["for"])
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    panels = [p for p in board["panels"] if p["type"] == "timeseries"]
    assert len(panels) == 14 and all(p["targets"] for p in panels)
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_promtool_accepts_the_rules_and_every_dashboard_query(
    exported: Exported, tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); parsed checks ran")
    _, board, out = exported
    checked = subprocess.run(
        [promtool, "check", "rules", str(out / RULES_FILE)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 16 rules found" in checked.stdout
    # The dashboard's queries, with Grafana's variables filled in, as recording rules.
    queries = [
        q.replace("$__rate_interval", "5m")
        .replace("$deployment", ".*")
        .replace(
            "label_values(loopml_serving_requests_total, deployment)",
            "loopml_serving_requests_total",
        )
        for q in expressions(board)
    ]
    recording = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"loopml:q{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(recording))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _exposed(text: str) -> set[str]:
    """Sample names a scrape of `text` can hold: those present, and for families declared
    without samples yet, the names their type produces."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


@pytest.fixture
def serve_process(tmp_path: Path, make_client: Callable[..., Client]) -> Iterator[str]:
    """A real `loopml serve` of deployment bikes-api, started as a user would."""
    root = init_workspace(tmp_path / "serve-ws")
    client = make_client(root=root)
    open_traffic(client)
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    client.deployments.create("bikes-api", "bikes/1")
    port = free_port()
    command = [sys.executable, "-c", "from loopml.cli.main import run; run()", "-w", str(root)]
    command += ["serve", "bikes-api", "--port", str(port), "--auth", "open"]
    with open(tmp_path / "serve.err", "wb") as err:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=cli_environment()
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            assert process.poll() is None, (tmp_path / "serve.err").read_text()[-3000:]
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "loopml serve did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(60)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[LiveServer]:
    root = init_workspace(tmp_path / "server-ws")
    server = LiveServer(root, free_port(), cli_environment(), ["--no-controller"]).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_every_metric_named_is_exposed_by_live_processes(
    exported: Exported, serve_process: str, server_process: LiveServer
) -> None:
    rules, board, _ = exported
    hours = bike_hours()
    row = hours.x.iloc[[0]].to_dict(orient="records")
    assert (
        httpx.post(f"{serve_process}/v1/deployments/bikes-api/predict", json=row).status_code == 200
    )
    bad = httpx.post(f"{serve_process}/v1/deployments/bikes-api/predict", json=[{"nope": 1}])
    assert bad.status_code >= 400  # an error sample too
    serving = _exposed(httpx.get(f"{serve_process}/metrics").text)
    assert httpx.get(f"{server_process.url}/healthz").status_code == 200
    server = _exposed(httpx.get(f"{server_process.url}/metrics").text)

    exposed = serving | server | BUILT_IN
    referenced = _referenced(_rule_expressions(rules) + expressions(board))
    assert referenced, "the files name no metric"
    assert referenced <= exposed, f"not on any /metrics: {sorted(referenced - exposed)}"
    assert "loopml_serving_requests_total" in referenced and "loopml_alerts_open" in referenced
    # The names the generator knows are the live ones, for each process.
    assert serving_names() <= serving and server_names() <= server


def test_the_store_gauges_count_alerts_rollouts_and_webhooks(client: Client) -> None:
    client.webhooks.add("ops", "https://hooks.example.com/x")
    register_ridge(client, bike_hours(), "bikes", alpha=1.0)
    WebhookDispatcher(client.stores, timeout_s=0.5).fan_out()
    families = {f.name: f for f in StoreCollector(client.stores.engine).collect()}
    [sample] = families["loopml_webhook_deliveries"].samples
    assert sample.labels == {"webhook": "ops", "state": "pending"} and sample.value == 1.0
    assert families["loopml_alerts_open"].samples == []


def test_bad_job_names_and_a_file_in_the_way_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Prometheus job name"):
        export_ops(tmp_path / "x", serving_job='a"} or vector(1) #')
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValidationError, match="is not a folder"):
        export_ops(blocker)
