"""The page frame: one offline document with the kit's styles, then the page's own."""

from __future__ import annotations

from loopml.htmlkit import nav, page, section, table


def test_page_is_offline_and_escapes_its_title() -> None:
    html = page("a <b>", "<p>body</p>", css=".mine { color: red; }", max_width=900)
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert "<title>a &lt;b&gt;</title>" in html
    assert "main { max-width: 900px; }" in html
    assert html.index("svg .ref") < html.index(".mine")  # the page's CSS can override the kit's
    assert "<script" not in html and "http" not in html


def test_nav_section_and_table_escape_what_they_are_given() -> None:
    assert nav([("x", "A & B")]) == '<nav><a href="#x">A &amp; B</a></nav>'
    assert section("s", "<T>", "<p>b</p>") == '<section id="s"><h2>&lt;T&gt;</h2><p>b</p></section>'
    html = table(["<h>"], ["<tr><td>1</td></tr>"], css_class="columns")
    assert html == (
        '<div class="table-wrap"><table class="columns"><tr><th>&lt;h&gt;</th></tr>'
        "<tr><td>1</td></tr></table></div>"
    )
