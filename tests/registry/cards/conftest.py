"""A full card dict like the registry assembles, with a real fairness report and profile."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from loopml.governance.fairness import evaluate_fairness

PROFILE = {
    "timestamp": {
        "kind": "temporal",
        "nulls": 0,
        "null_fraction": 0.0,
        "min": "2011-01-01T00:00:00",
        "max": "2011-03-31T23:00:00",
    },
    "temp": {
        "kind": "numeric",
        "nulls": 3,
        "null_fraction": 0.0015,
        "min": 0.02,
        "max": 0.7,
        "mean": 0.2719,
        "std": 0.1116,
        "quantiles": {"0.05": 0.1, "0.25": 0.2, "0.5": 0.26, "0.75": 0.34, "0.95": 0.46},
        "distinct": 44,
    },
    "weathersit": {
        "kind": "categorical",
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": 3,
        "top": [{"value": "clear", "count": 1241}, {"value": "cloudy/misty", "count": 627}],
    },
}


@pytest.fixture(scope="session")
def fairness() -> dict[str, Any]:
    report = evaluate_fairness(
        [1, 0, 1, 0, 0, 0, 1, 1],
        [1, 1, 0, 0, 1, 0, 1, 1],
        pd.Series(
            ["weekday"] * 4 + ["<img src=x onerror=alert(1)>"] * 2 + ["weekend"] * 2, name="day"
        ),
        task="classification",
    )
    return report.to_dict()


@pytest.fixture
def card(fairness: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {
            "name": "bikes",
            "version": 3,
            "uri": "model:bikes/3",
            "flavor": "sklearn",
            "created_by": "alice",
            "created_at": 1717171717.0,
            "state": "REGISTERED",
            "aliases": ["champion"],
        },
        "overview": {
            "description": "Hourly demand. <script>alert('pwned')</script>",
            "intended_use": "Next-day staffing | planning",
            "out_of_scope": None,
            "owners": ["alice", "bob"],
        },
        "training_data": [
            {
                "uri": "dataset:bikes@1",
                "role": "training",
                "rows": 2067,
                "columns": 3,
                "time_column": "timestamp",
                "profile": PROFILE,
            }
        ],
        "metrics": {"rmse": 101.25, "mae": 74.5},
        "evaluations": [{"dataset": "dataset:bikes@2", "metrics": {"rmse": 150.3, "mae": 110.0}}],
        "fairness": fairness,
        "lineage": {
            "run": "run:3f9c2a1b",
            "experiment": "bikes",
            "git_commit": "a1b2c3d4e5f6",
            "dirty": True,
            "python": "3.11.7",
            "packages": 123,
            "datasets": ["dataset:bikes@1"],
        },
        "approvals": [
            {
                "id": "ar-1",
                "alias": "champion",
                "status": "PENDING",
                "requester": "alice",
                "decisions": [
                    {
                        "principal": "carol",
                        "decision": "approve",
                        "comment": "ok",
                        "at": 1717172717.0,
                    }
                ],
                "checks": [
                    {
                        "name": "fairness demographic_parity_difference[day]",
                        "passed": False,
                        "message": "demographic_parity_difference[day] = 0.5 exceeds the limit 0.1",
                    },
                    {"name": "threshold rmse <= 200", "passed": True, "message": "rmse = 101.2"},
                ],
            }
        ],
        "limitations": ["Not for special events."],
    }
