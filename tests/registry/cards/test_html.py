"""HTML cards: one self-contained, well-formed file with every user string escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from loopml.registry.cards import render_html

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"}


class TagBalance(HTMLParser):
    """Collects unbalanced tags and every src/href attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def parse(html: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    return parser


def test_self_contained_and_balanced(card: dict[str, Any]) -> None:
    html = render_html(card)
    parsed = parse(html)
    assert parsed.errors == [] and parsed.stack == []
    assert all(link.startswith("#") for link in parsed.links)  # in-page anchors only
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not re.search(r"https?://|url\(|@import", html)
    assert "<style>" in html and html.startswith("<!DOCTYPE html>")
    assert len(html.encode()) < 60_000  # aggregates only


def test_user_text_is_escaped(card: dict[str, Any]) -> None:
    card["model"]["name"] = "<b>bikes</b>"
    html = render_html(card)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html
    assert "<b>bikes" not in html and "&lt;b&gt;bikes&lt;/b&gt; v3</title>" in html
    # a group value from the data, in tables and in the SVG charts
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3


def test_sections_tables_and_charts(card: dict[str, Any]) -> None:
    html = render_html(card)
    for anchor in ("model-details", "overview", "fairness", "training-data", "limitations"):
        assert f'<section id="{anchor}">' in html and f'href="#{anchor}"' in html
    assert html.count("<svg") == 2  # selection and true positive rate by day
    assert "<th>demographic_parity_difference</th>" in html
    assert '<td class="fail">FAIL</td>' in html
    assert "2011-01-01 00:00:00" in html


def test_undefined_values_are_marked(card: dict[str, Any]) -> None:
    # the "<img ...>" group has no positive labels: its TPR is undefined
    html = render_html(card)
    assert '<span class="missing">undefined</span>' in html
    assert 'class="undefined">undefined</text>' in html
    assert "no positive labels" in html


@pytest.mark.parametrize("card", [{}, {"model": {"name": "m"}, "fairness": None}])
def test_missing_fields_render(card: dict[str, Any]) -> None:
    html = render_html(card)
    parsed = parse(html)
    assert parsed.errors == [] and parsed.stack == []
    assert '<span class="missing">not provided</span>' in html
    assert "No fairness evaluation recorded." in html
