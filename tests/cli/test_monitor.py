"""`loopml monitor …` on a deployed bikes model with a replayed prediction log."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from loopml.samples import split_by_months
from tests.cli.helpers import Invoke, field, table_rows, user_error
from tests.monitoring.conftest import T0, Deployed, bikes, deployed  # noqa: F401

pytestmark = pytest.mark.usefixtures("traffic_open")  # about the commands, not the policy


def test_create_run_show_list_report_alerts(
    cli: Invoke,
    deployed: Deployed,  # noqa: F811
    bikes: pd.DataFrame,  # noqa: F811
    tmp_path: Path,
) -> None:
    created = cli(
        "monitor",
        "create",
        "drift",
        "deployment:bikes-api",
        "--window",
        "200 rows",
        "--alert",
        "dataset_drift",
        "--alert",
        "metric_below:r2:0.3",
        "--sink",
        "log",
        "--threshold",
        "temp=0.15",
        "--label-delay",
        "1h",
        "--calibrate",
        "fixed",
    )
    assert created.exit_code == 0, created.output
    assert "created monitor:drift on deployment:bikes-api" in created.stdout
    assert field(created.stdout, "window") == "200 rows"
    assert field(created.stdout, "label delay") == "1h"
    assert deployed.training.uri in field(created.stdout, "reference")

    idle = cli("monitor", "run", "drift")
    assert idle.exit_code == 0 and "no complete window" in idle.stdout

    deployed.replay(split_by_months(bikes, [1, 2]).sample(200, random_state=1), start=T0)
    deployed.replay(split_by_months(bikes, [7]).iloc[:200], start=T0 + 1000)
    ran = cli("monitor", "run", "drift")
    assert ran.exit_code == 0, ran.output
    rows = [r for r in table_rows(ran.stdout) if r[0]]  # a long cell wraps onto a second line
    assert [r[0] for r in rows] == ["1", "2"]
    assert rows[0][3] == "ok" and rows[1][3] == "drift"
    assert "opened" in rows[1][-1]

    shown = cli("monitor", "show", "drift")
    assert shown.exit_code == 0, shown.output
    assert "result #2" in shown.stdout and "dataset drift: yes" in shown.stdout
    assert "temp" in shown.stdout and "latency and errors" in shown.stdout
    data = json.loads(cli("monitor", "show", "drift", "--result", "1", "--json").stdout)
    assert data["result"]["seq"] == 1 and data["result"]["drift"]["dataset_drift"] is False
    assert data["monitor"]["config"]["thresholds"] == {"temp": 0.15}

    [listed] = table_rows(cli("monitor", "list").stdout)
    assert listed[0] == "drift" and listed[3] == "2"
    assert json.loads(cli("monitor", "list", "--json").stdout)[0]["open_alerts"] >= 1

    alerts = cli("monitor", "alerts", "drift", "--json")
    assert {a["rule"] for a in json.loads(alerts.stdout)} >= {"dataset_drift"}

    out = tmp_path / "drift.html"
    report = cli("monitor", "report", "drift", "-o", str(out))
    assert report.exit_code == 0, report.output
    assert out.read_text().startswith("<!DOCTYPE html>") and "wrote" in report.stdout


def test_bad_input_says_what_to_fix(cli: Invoke, deployed: Deployed) -> None:  # noqa: F811
    assert "deployment:NAME or dataset:NAME" in user_error(
        cli("monitor", "create", "m", "model:bikes")
    )
    assert "COLUMN=VALUE" in user_error(cli("monitor", "create", "m", "bikes-api", "--test", "ks"))
    assert "must be a number" in user_error(
        cli("monitor", "create", "m", "bikes-api", "--threshold", "temp=high")
    )
    assert "no monitor named" in user_error(cli("monitor", "show", "nope"))
    assert "--due" in user_error(cli("monitor", "run"))
    cli("monitor", "create", "m", "bikes-api")
    assert "no result" in user_error(cli("monitor", "report", "m"))
    assert json.loads(cli("monitor", "run", "--due", "--json").stdout) == {}
