"""`loopml runs …` and `loopml experiments …` against a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from loopml.sdk import Client
from tests.cli.helpers import Invoke, user_error

TRIALS = [("gbm", 0.1, 31.5), ("gbm", 0.01, 28.25), ("forest", 0.1, 35.0)]


@pytest.fixture
def runs(client: Client) -> list[str]:
    """Three finished runs of `bikes` (one with environment capture), one failed run."""
    data = client.log_dataset("bikes", pd.DataFrame({"x": [1, 2, 3], "y": [2.0, 4.0, 6.0]}))
    ids = []
    for index, (model, lr, rmse) in enumerate(TRIALS):
        with client.start_run(
            "bikes",
            f"trial-{index}",
            params={"model": model, "lr": lr, "depth": 6},
            tags={"team": "forecast"},
            inputs=[data],
            capture_code=index == 0,
        ) as run:
            run.log_metric("rmse", rmse + 5, step=0)
            run.log_metric("rmse", rmse, step=1)
            run.log_text("trained on bikes@1", "notes.txt")
            ids.append(run.id)
    broken = client.start_run("tuning", "broken", capture_code=False)
    with pytest.raises(RuntimeError), broken:
        raise RuntimeError("loss became NaN")
    ids.append(broken.id)
    return ids


def test_list_table(cli: Invoke, runs: list[str]) -> None:
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for run_id in runs:
        assert run_id[:12] in out
    kinds, names = [line for line in out.splitlines() if line.startswith("┃")][:2]
    for column in ("run", "experiment", "status", "duration", "model", "lr", "rmse"):
        assert f" {column} " in names
    assert "params" in kinds and "metrics" in kinds
    trial = next(line for line in out.splitlines() if runs[1][:12] in line)
    assert "FINISHED" in trial and "gbm" in trial and "28.25" in trial


def test_list_single_experiment_becomes_the_title(cli: Invoke, runs: list[str]) -> None:
    out = cli("runs", "list", "--experiment", "bikes").stdout
    assert out.startswith("runs of bikes")
    assert runs[3][:12] not in out


def test_list_filter_order_and_max(cli: Invoke, runs: list[str]) -> None:
    result = cli(
        "runs", "list", "-f", "params.model = 'gbm'", "--order-by", "metrics.rmse ASC", "--json"
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)] == [runs[1], runs[0]]
    limited = cli("runs", "list", "--order-by", "metrics.rmse DESC", "--max", "1").stdout
    assert runs[2][:12] in limited and runs[0][:12] not in limited
    assert "showing the first 1 runs" in limited


def test_list_json_carries_params_and_metrics(cli: Invoke, runs: list[str]) -> None:
    listed = {r["id"]: r for r in json.loads(cli("runs", "list", "--json").stdout)}
    assert listed[runs[0]]["params"] == {"model": "gbm", "lr": "0.1", "depth": "6"}
    assert listed[runs[0]]["metrics"] == {"rmse": 31.5}
    assert listed[runs[3]]["status"] == "FAILED"


def test_list_bad_filter(cli: Invoke, runs: list[str]) -> None:
    user_error(cli("runs", "list", "--filter", "metrics.rmse <"), "filter", "ends too early")
    user_error(cli("runs", "list", "--filter", "rmse ?? 3"), "cannot read the filter")


def test_list_bad_order_and_max(cli: Invoke, runs: list[str]) -> None:
    user_error(cli("runs", "list", "--order-by", "bogus"), "unknown attribute 'bogus'")
    user_error(cli("runs", "list", "--max", "0"), "max_results")


def test_list_drops_key_columns_that_do_not_fit(
    cli: Invoke, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    out = cli("runs", "list").stdout
    assert max(len(line) for line in out.splitlines()) <= 90
    assert "do not fit; widen the terminal" in out
    assert "…" not in out


def test_list_unknown_experiment(cli: Invoke, runs: list[str]) -> None:
    user_error(cli("runs", "list", "-e", "nope"), "no experiment named 'nope'")


def test_list_without_runs(cli: Invoke) -> None:
    assert cli("runs", "list").stdout.strip() == "no runs yet"


def test_show_everything_about_a_run(cli: Invoke, runs: list[str]) -> None:
    result = cli("runs", "show", runs[0].replace("run-", "run:"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        runs[0],
        "trial-0",
        "FINISHED",
        "not captured (no git repository)",
        "Python ",
        "params",
        "gbm",
        "metrics (latest)",
        "31.5",
        "team",
        "dataset:bikes@1",
        "training",
        "notes.txt",
        "environment/requirements.txt",
    ):
        assert expected in out, expected
    assert "36.5" not in out  # an earlier step, not the latest value


def test_show_failed_run_has_its_traceback(cli: Invoke, runs: list[str]) -> None:
    out = cli("runs", "show", runs[3]).stdout
    assert "FAILED" in out
    assert "RuntimeError: loss became NaN" in out


def test_show_json(cli: Invoke, runs: list[str]) -> None:
    shown = json.loads(cli("runs", "show", runs[0], "--json").stdout)
    assert shown["id"] == runs[0]
    assert shown["uri"] == runs[0].replace("run-", "run:")
    assert shown["metrics"] == {"rmse": 31.5}
    assert shown["inputs"][0]["dataset"] == "dataset:bikes@1"
    assert shown["environment"]["python"]
    paths = {a["path"]: a for a in shown["artifacts"]}
    assert paths["notes.txt"]["size"] == len("trained on bikes@1")


def test_show_unknown_run(cli: Invoke) -> None:
    user_error(cli("runs", "show", "run:deadbeef"), "no run run-deadbeef")


def test_compare_highlights_differences(cli: Invoke, runs: list[str]) -> None:
    result = cli("runs", "compare", *runs[:3])
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if line.startswith("│")
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
    }
    assert rows["params.depth"] == ["6", "6", "6"]
    assert rows["* params.model"] == ["gbm", "gbm", "forest"]
    assert rows["* metrics.rmse"] == ["31.5", "28.25", "35"]
    assert "experiment" in rows
    assert "* = values differ between runs" in result.stdout


def test_compare_only_differences(cli: Invoke, runs: list[str]) -> None:
    out = cli("runs", "compare", runs[0], runs[1], "--only-differences").stdout
    assert "params.lr" in out
    assert "params.model" not in out and "params.depth" not in out


def test_compare_union_of_keys(cli: Invoke, runs: list[str]) -> None:
    out = cli("runs", "compare", runs[0], runs[3]).stdout
    line = next(line for line in out.splitlines() if "params.model" in line)
    assert "gbm" in line and "—" in line


def test_compare_needs_two_known_runs(cli: Invoke, runs: list[str]) -> None:
    user_error(cli("runs", "compare", runs[0]), "at least two runs")
    user_error(cli("runs", "compare", runs[0], "run:deadbeef"), "no run run-deadbeef")


def test_experiments_list(cli: Invoke, runs: list[str]) -> None:
    out = cli("experiments", "list").stdout
    bikes = next(line for line in out.splitlines() if "│ bikes" in line)
    assert " 3 │" in bikes
    listed = json.loads(cli("experiments", "list", "--json").stdout)
    assert {e["name"]: e["runs"] for e in listed} == {"bikes": 3, "tuning": 1}


def test_experiments_list_empty(cli: Invoke, tmp_path: Path) -> None:
    assert "no experiments yet" in cli("experiments", "list").stdout
