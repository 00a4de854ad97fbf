"""Markdown cards: every section, escaped user text, 'not provided' for missing fields."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.errors import ValidationError
from loopml.registry.cards import render_markdown

SECTIONS = (
    "Model details",
    "Overview",
    "Metrics",
    "Evaluations",
    "Training data",
    "Fairness",
    "Lineage",
    "Approvals",
    "Limitations",
)


def test_every_section_and_its_facts(card: dict[str, Any]) -> None:
    text = render_markdown(card)
    assert text.startswith("# Model card: bikes v3\n")
    for title in SECTIONS:
        assert f"\n## {title}\n" in text
    for fact in (
        "- **URI:** model:bikes/3",
        "- **Created at:** 2024-05-31 16:08 UTC",
        "- **Aliases:** champion",
        "- **Owners:** alice, bob",
        "| rmse | 101.2 |",
        "| dataset:bikes@2 | 150.3 | 110 |",
        "| temp | numeric | 3 (0.1%) | 0.02 | 0.7 | 0.2719 | 0.1116 | 0.26 | — |",
        "clear (1,241), cloudy/misty (627)",
        "### By day",
        "| weekday | 0.5 | 0.5 | 0.5 | 0.5 | 4 |",
        "- **Uncommitted changes:** yes",
        "| carol | approve | ok | 2024-05-31 16:25 UTC |",
        "| fairness demographic_parity_difference[day] | FAIL |",
        "- Not for special events.",
    ):
        assert fact in text, fact


def test_user_text_is_escaped(card: dict[str, Any]) -> None:
    text = render_markdown(card)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in text
    assert "Next-day staffing | planning" in text  # a paragraph, not a table: kept
    card["metrics"] = {"a|b": 1.0}
    assert "| a\\|b | 1 |" in render_markdown(card)


def test_derived_limitations(card: dict[str, Any]) -> None:
    text = render_markdown(card)
    assert "Trained on data from 2011-01-01 to 2011-03-31 23:00:00 (dataset:bikes@1)" in text
    assert "Fairness check failed (ar-1): demographic_parity_difference[day] = 0.5" in text
    assert "threshold rmse" not in text.split("## Limitations")[1]


@pytest.mark.parametrize("card", [{}, {"model": {"name": "m"}}], ids=["empty", "model-only"])
def test_missing_fields_render_as_not_provided(card: dict[str, Any]) -> None:
    text = render_markdown(card)
    for title in SECTIONS:
        assert f"## {title}" in text
    overview = text.split("## Overview")[1].split("## Metrics")[0]
    assert overview.count("not provided") == 4  # description, intended use, out of scope, owners
    assert "No fairness evaluation recorded." in text
    assert "No training dataset is recorded" in text
    assert "No evaluation on a separate dataset is recorded" in text


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValidationError, match="card\\['metrics'\\] must be a mapping"):
        render_markdown({"metrics": [1, 2]})
    with pytest.raises(ValidationError, match="card\\['approvals'\\] must be a list"):
        render_markdown({"approvals": "ar-1"})
    with pytest.raises(ValidationError, match="a model card is a dict"):
        render_markdown([])  # type: ignore[arg-type]
