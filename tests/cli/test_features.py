"""`loopml features plan|apply|list|show|materialize`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.cli.helpers import Invoke, user_error

DEFINITIONS = """
from loopml.features import Entity, FeatureService, FeatureView

station = Entity("station", ["station"])
stats = FeatureView("station_stats", station, {source!r}, {{"rides": "{dtype}"}})
demand = FeatureService("demand", ["station_stats:rides"])
"""


def _module(tmp_path: Path, dtype: str = "float64") -> Path:
    source = tmp_path / "rides.parquet"
    pd.DataFrame(
        {
            "station": [1, 2],
            "event_timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
            "rides": [3.0, 4.0],
        }
    ).to_parquet(source)
    module = tmp_path / f"defs_{dtype}.py"
    module.write_text(DEFINITIONS.format(source=str(source), dtype=dtype))
    return module


def test_plan_apply_list_show_materialize(cli: Invoke, tmp_path: Path) -> None:
    module = _module(tmp_path)
    planned = cli("features", "plan", str(module))
    assert planned.exit_code == 0, planned.output
    assert "plan: 3 create" in planned.stdout
    applied = cli("features", "apply", str(module))
    assert "applied: 3 create" in applied.stdout
    assert "3 unchanged" in cli("features", "apply", str(module)).stdout
    listed = cli("features", "list")
    assert "station_stats" in listed.stdout and "never materialized" in listed.stdout
    materialized = cli("features", "materialize")
    assert materialized.exit_code == 0, materialized.output
    assert "station_stats" in materialized.stdout and "full" in materialized.stdout
    shown = json.loads(cli("features", "show", "station_stats", "--json").stdout)
    assert shown["version"] == 1 and shown["freshness"]["last_status"] == "done"
    assert json.loads(cli("features", "list", "--json").stdout)[0]["kind"] in (
        "entity",
        "view",
        "service",
    )
    assert "deployments" in cli("features", "show", "demand").stdout


def test_an_incompatible_change_is_refused_by_plan_and_apply(cli: Invoke, tmp_path: Path) -> None:
    cli("features", "apply", str(_module(tmp_path)))
    changed = _module(tmp_path, "int64")
    planned = cli("features", "plan", str(changed))
    assert planned.exit_code == 1 and "refused" in planned.stdout
    user_error(cli("features", "apply", str(changed)), "nothing applied", "changes type")
    user_error(cli("features", "show", "ghost"), "no entity, view or service 'ghost'")
