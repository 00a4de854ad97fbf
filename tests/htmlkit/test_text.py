"""How the kit writes values: one formatting for every page, everything escaped."""

from __future__ import annotations

import math

import pytest

from loopml.htmlkit import MISSING, compact, esc, number, percent, shorten, utc_time, value_text


def test_esc_covers_text_and_attributes() -> None:
    assert esc('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, MISSING),
        (1234567, "1,234,567"),
        (0.123456, "0.1235"),
        (12345.6, "12,346"),
        (math.nan, MISSING),
        (math.inf, MISSING),
        (True, "True"),
    ],
)
def test_number(value: float | None, expected: str) -> None:
    assert number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "n/a"),
        (True, "yes"),
        (False, "no"),
        (3, "3"),
        (0.5, "0.5"),
        (math.nan, "n/a"),
        (["a", 1], "a, 1"),
        ([], "n/a"),
        ("text", "text"),
    ],
)
def test_value_text(value: object, expected: str) -> None:
    assert value_text(value, "n/a") == expected


def test_compact_percent_and_shorten() -> None:
    assert [compact(v) for v in (2.5e9, 1.2e6, 35_000, 0.81234)] == [
        "2.5G",
        "1.2M",
        "35k",
        "0.8123",
    ]
    assert percent(0.123) == "12.3%"
    assert percent(0.00001) == "0.001%"  # a rare event never reads as 0%
    assert percent(None) == MISSING
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abc", 4) == "abc"


def test_utc_time() -> None:
    assert utc_time(0) == "1970-01-01 00:00:00 UTC"
    assert utc_time(90, seconds=False) == "1970-01-01 00:01 UTC"
    assert utc_time(None) == MISSING
