"""`loopml pipeline run` and `loopml pipeline runs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.cli.pipelines import parse_params
from loopml.errors import ValidationError
from tests.cli.helpers import Invoke, user_error
from tests.pipelines import sample_pipelines as sp

ETL = "tests.pipelines.sample_pipelines:etl"


def test_run_prints_the_steps_and_a_rerun_is_cached(cli: Invoke, tmp_path: Path) -> None:
    first = cli("pipeline", "run", ETL, "--param", "n=8", "-p", f"marker_dir={tmp_path}")
    assert first.exit_code == 0, first.output
    assert "summarize" in first.stdout and "FINISHED" in first.stdout

    second = cli("pipeline", "run", ETL, "--param", "n=8", "-p", f"marker_dir={tmp_path}", "--json")
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert data["status"] == "FINISHED"
    assert all(step["cached"] for step in data["steps"].values())
    assert sp.executed(tmp_path).count("load") == 1


def test_runs_lists_pipeline_runs_with_step_and_cache_counts(cli: Invoke) -> None:
    assert "no pipeline runs yet" in cli("pipeline", "runs").stdout
    cli("pipeline", "run", ETL, "--param", "n=5")
    cli("pipeline", "run", ETL, "--param", "n=5", "--executor", "local", "--max-workers", "1")

    listed = json.loads(cli("pipeline", "runs", "etl", "--json", "--max", "10").stdout)
    assert [(r["steps"], r["cached"], r["failed"]) for r in listed] == [(5, 5, 0), (5, 0, 0)]
    table = cli("pipeline", "runs").stdout
    assert "etl" in table and listed[0]["run_id"] in table
    assert json.loads(cli("pipeline", "runs", "other", "--json").stdout) == []


def test_a_failing_pipeline_exits_with_the_step_error(cli: Invoke, tmp_path: Path) -> None:
    result = cli(
        "pipeline",
        "run",
        "tests.pipelines.sample_pipelines:failing",
        "-p",
        f"marker_dir={tmp_path}",
    )
    assert result.exit_code == 2
    assert "boom at 21" in result.stderr
    assert "FAILED" in result.stdout


def test_bad_targets_and_params_say_what_to_fix(cli: Invoke) -> None:
    user_error(cli("pipeline", "run", "no-colon"), "package.module:attr")
    user_error(cli("pipeline", "run", "no_such_module_xyz:p"), "cannot import")
    user_error(cli("pipeline", "run", "tests.pipelines.sample_pipelines:nothing"), "no attribute")
    user_error(cli("pipeline", "run", "tests.pipelines.sample_pipelines:load"), "not a pipeline")
    user_error(cli("pipeline", "run", ETL, "--param", "oops"), "KEY=VALUE")
    user_error(cli("pipeline", "run", ETL, "--executor", "spark"), "unknown executor")


def test_param_values_read_as_json_when_they_can() -> None:
    assert parse_params(["n=3", "lr=0.5", "ok=true", "name=bikes", "xs=[1,2]"]) == {
        "n": 3,
        "lr": 0.5,
        "ok": True,
        "name": "bikes",
        "xs": [1, 2],
    }
    with pytest.raises(ValidationError):
        parse_params(["=3"])
