"""Limitations read off the card's own facts, so a card never looks better than its data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.registry.cards.blocks import mapping, records, time_text, value_text

SMALL_TRAINING_SET = 1_000
"""Fewer training rows than this earns a warning."""

_FAIRNESS_NAMES = (
    "fairness",
    "demographic_parity",
    "equalized_odds",
    "mae_difference",
    "mae_ratio",
)


def derive_limitations(card: Mapping[str, Any]) -> list[str]:
    """Training period, small or unknown training data, no evaluation, fairness gaps."""
    found: list[str] = []
    training = records(card, "training_data")
    if not training:
        found.append("No training dataset is recorded, so what the model learned from is unknown.")
    for data in training:
        period = _period(data)
        if period is not None:
            found.append(
                f"Trained on data from {period[0]} to {period[1]} ({value_text(data.get('uri'))}); "
                "behaviour outside that period is untested."
            )
    counted = [
        d["rows"]
        for d in training
        if d.get("role", "training") == "training" and isinstance(d.get("rows"), int)
    ]
    if counted and sum(counted) < SMALL_TRAINING_SET:
        found.append(
            f"Trained on only {sum(counted):,} rows (under {SMALL_TRAINING_SET:,}); "
            "its metrics are uncertain."
        )
    if not records(card, "evaluations"):
        found.append("No evaluation on a separate dataset is recorded; metrics are from training.")
    found.extend(_fairness_gaps(card))
    return found


def _period(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """(min, max) of the time column, or of the first temporal column in the profile."""
    profile = mapping(data, "profile")
    column = data.get("time_column")
    if column not in profile:
        column = next(
            (
                c
                for c, s in profile.items()
                if isinstance(s, Mapping) and s.get("kind") == "temporal"
            ),
            None,
        )
    stats = profile.get(column) if column is not None else None
    if not isinstance(stats, Mapping) or stats.get("min") is None or stats.get("max") is None:
        return None
    temporal = stats.get("kind") == "temporal"
    return _when(stats["min"], temporal), _when(stats["max"], temporal)


def _when(value: Any, temporal: bool) -> str:
    """A temporal bound as date and time (midnight dropped); others as they are."""
    return time_text(value).removesuffix(" 00:00:00") if temporal else value_text(value)


def _fairness_gaps(card: Mapping[str, Any]) -> list[str]:
    fairness = mapping(card, "fairness")
    if not fairness:
        found = ["No fairness evaluation is recorded."]
    else:
        undefined = mapping(fairness, "undefined")
        found = []
        for where, why in undefined.items():
            if where.startswith("disparities/"):
                column, _, metric = where.removeprefix("disparities/").rpartition("/")
                found.append(f"Fairness: {metric} for {column} is undefined ({why}).")
    for request in records(card, "approvals"):
        for check in records(request, "checks"):
            name = str(check.get("name", ""))
            if check.get("passed") is False and any(k in name for k in _FAIRNESS_NAMES):
                found.append(
                    f"Fairness check failed ({value_text(request.get('id'))}): "
                    f"{value_text(check.get('message'), name)}"
                )
    return found
