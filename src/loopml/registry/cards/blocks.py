"""The neutral blocks a card is built from, and how values are written in them.

`sections.py` turns the card dict into blocks of plain, unescaped text; each renderer
(Markdown, HTML) escapes and draws them, so both formats always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopml.errors import ValidationError
from loopml.htmlkit import MISSING, utc_time, value_text

NOT_PROVIDED = "not provided"
UNDEFINED = "undefined"
EMPTY = MISSING


@dataclass(frozen=True)
class Text:
    """A paragraph; line breaks are kept."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass(frozen=True)
class Facts:
    """Label and value pairs."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Bars:
    """A horizontal bar chart of one metric per group (drawn in HTML only).

    Bars are scaled to `scale`, or to the largest value when it is None.
    """

    title: str
    bars: tuple[tuple[str, float | None], ...]
    scale: float | None = None


Block = Text | Heading | Facts | Bullets | Table | Bars


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: tuple[Block, ...]


__all__ = [
    "EMPTY",
    "NOT_PROVIDED",
    "UNDEFINED",
    "Bars",
    "Block",
    "Bullets",
    "CardLayout",
    "Facts",
    "Heading",
    "Section",
    "Table",
    "Text",
    "mapping",
    "records",
    "slug",
    "time_text",
    "user_text",
    "value_text",
]


@dataclass(frozen=True)
class CardLayout:
    title: str
    sections: tuple[Section, ...]


def user_text(value: Any) -> str:
    """A field the owners fill in; empty or missing is 'not provided'."""
    if value is None or (isinstance(value, str | list | tuple) and not value):
        return NOT_PROVIDED
    return value_text(value, NOT_PROVIDED)


def time_text(value: Any, missing: str = NOT_PROVIDED) -> str:
    """Epoch seconds as UTC date and time; ISO text with a space for the `T`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return utc_time(value, seconds=False)
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T":
        return value.replace("T", " ", 1)
    return value_text(value, missing)


def mapping(card: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`card[key]` as a mapping; missing or None is empty."""
    value = card.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"card[{key!r}] must be a mapping, got {type(value).__name__}")
    return value


def records(card: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """`card[key]` as a list of mappings; missing or None is empty."""
    value = card.get(key)
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValidationError(f"card[{key!r}] must be a list, got {type(value).__name__}")
    bad = [type(v).__name__ for v in value if not isinstance(v, Mapping)]
    if bad:
        raise ValidationError(f"card[{key!r}] must hold mappings, found {bad[0]}")
    return list(value)


def slug(text: str) -> str:
    """An HTML id from a title."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
