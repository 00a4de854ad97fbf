"""Limitations derived from the card's own facts."""

from __future__ import annotations

from typing import Any

from loopml.registry.cards import derive_limitations


def test_full_card(card: dict[str, Any]) -> None:
    found = derive_limitations(card)
    assert found == [
        "Trained on data from 2011-01-01 to 2011-03-31 23:00:00 (dataset:bikes@1); "
        "behaviour outside that period is untested.",
        "Fairness: equalized_odds_difference for day is undefined (true_positive_rate is "
        "undefined for <img src=x onerror=alert(1)> (no positive labels); false_positive_rate "
        "is undefined for weekend (no negative labels)).",
        "Fairness check failed (ar-1): demographic_parity_difference[day] = 0.5 exceeds the "
        "limit 0.1",
    ]


def test_small_training_set_and_numeric_time_column() -> None:
    card = {
        "training_data": [
            {
                "uri": "dataset:d@1",
                "role": "training",
                "rows": 400,
                "time_column": "day",
                "profile": {"day": {"kind": "numeric", "min": 1, "max": 90}},
            },
            {"uri": "dataset:d@2", "role": "validation", "rows": 5000},
        ],
        "evaluations": [{"dataset": "dataset:d@3", "metrics": {"mae": 1.0}}],
    }
    assert derive_limitations(card) == [
        "Trained on data from 1 to 90 (dataset:d@1); behaviour outside that period is untested.",
        "Trained on only 400 rows (under 1,000); its metrics are uncertain.",
        "No fairness evaluation is recorded.",
    ]


def test_nothing_recorded() -> None:
    assert derive_limitations({}) == [
        "No training dataset is recorded, so what the model learned from is unknown.",
        "No evaluation on a separate dataset is recorded; metrics are from training.",
        "No fairness evaluation is recorded.",
    ]
