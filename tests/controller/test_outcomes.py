"""What a pipeline's return value says: its candidate, and a JSON summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from loopml.controller import Candidate
from loopml.controller.outcomes import candidate_of, summarize
from loopml.errors import ValidationError


@dataclass
class Gate:
    passed: bool
    version: Any


@dataclass
class Version:
    uri: str


@pytest.mark.parametrize(
    ("result", "candidate"),
    [
        (None, None),
        ({"rmse": 3.0}, None),
        ({"model_version": "model:bikes/7"}, Candidate("model:bikes/7", True)),
        ({"model_version": "bikes/7", "passed": False}, Candidate("model:bikes/7", False)),
        (Gate(True, Version("model:bikes/3")), Candidate("model:bikes/3", True)),
        (Gate(False, "model:bikes/4"), Candidate("model:bikes/4", False)),
        (Version("model:bikes/5"), Candidate("model:bikes/5", True)),
        (Version("dataset:bikes@5"), None),
    ],
)
def test_candidates(result: Any, candidate: Candidate | None) -> None:
    assert candidate_of(result) == candidate


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"model_version": 7}, "model version or a URI"),
        ({"model_version": "model:bikes@champion"}, "not a version"),
        ({"model_version": "not a model"}, "not a model reference"),
    ],
)
def test_malformed_candidates(result: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        candidate_of(result)


def test_summaries_are_small_valid_json() -> None:
    summary = summarize(
        {
            "gate": Gate(True, Version("model:bikes/3")),
            "nan": float("nan"),
            "rows": list(range(500)),
            "text": "x" * 5000,
            "object": object(),
            1: {2: {3: {4: {5: {6: {7: "deep"}}}}}},
        }
    )
    json.dumps(summary, allow_nan=False)
    assert summary["gate"] == {"passed": True, "version": "model:bikes/3"}
    assert summary["nan"] is None and len(summary["rows"]) == 100
    assert len(summary["text"]) == 2000 and summary["object"].startswith("<object")
