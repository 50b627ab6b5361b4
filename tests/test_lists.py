"""Lists are quoted whole: the introduction and its items, within Contract 1's cap."""

from __future__ import annotations

from pathlib import Path

from ingest.extracted import ReadLimits
from ingest.html import read_html
from retriever.lists import list_span
from retriever.settings import MAX_QUOTE_CHARS

NEWS = (
    "Release notes.\n\n"
    "shared-mime-info 2.2 (2022-03-27)\n"
    "* model/3mf: new\n"
    "* Match shared libraries with version suffix\n"
    "* model/obj: add mtllib and Blender comment based magic,\n"
    "  and a wrapped second line\n"
    "\n"
    "shared-mime-info 2.1 (2020-12-31)\n"
    "* Add Kotlin source mime-type\n"
)


def _quote(text: str, needle: str, debris=()) -> str:
    start = text.index(needle)
    end = text.index("\n", start)
    a, b = list_span(text, (start, end), debris)
    assert text[a:b] == text[a:b].strip() and b - a <= MAX_QUOTE_CHARS
    return text[a:b]


def test_an_item_becomes_its_list_with_the_line_that_introduces_it() -> None:
    quote = _quote(NEWS, "* Match shared")
    assert quote.startswith("shared-mime-info 2.2 (2022-03-27)\n* model/3mf: new")
    assert quote.endswith("and a wrapped second line")  # a wrapped item stays whole
    assert "2.1" not in quote  # the next release's list is another list


def test_the_introducing_line_brings_its_items() -> None:
    assert _quote(NEWS, "shared-mime-info 2.1").endswith("* Add Kotlin source mime-type")


def test_a_sentence_ending_in_a_colon_introduces_a_list_after_a_blank_line() -> None:
    text = "The solution is to either:\n\n1. restart the daemon\n2) reinstall it\n\nDone."
    assert _quote(text, "The solution") == text[: text.index("\n\nDone")]


def test_plain_sentences_and_paragraph_breaks_are_left_alone() -> None:
    text = "First sentence here.\nSecond line of prose.\n\n* an item after a blank line\n"
    start = text.index("First")
    assert list_span(text, (start, start + 20), ()) == (start, start + 20)


def test_a_long_list_keeps_the_chosen_item_and_stays_under_the_cap() -> None:
    items = "".join(f"* item number {n} of a very long list of things\n" for n in range(30))
    text = "Things:\n" + items
    quote = _quote(text, "* item number 20 ")
    assert "item number 20 " in quote and len(quote) <= MAX_QUOTE_CHARS


def test_a_list_stops_at_debris_such_as_a_running_header() -> None:
    text = "Steps:\n* one\n* two\nPage 3 of 9\n* three\n"
    header = text.index("Page 3")
    quote = _quote(text, "* one", debris=[(header, header + 11)])
    assert quote == "Steps:\n* one\n* two"


def test_html_list_items_are_marked_as_word_lists_are() -> None:
    html = (
        b"<html><body><p>Features:</p><ul><li>One</li><li><p>Two, in a paragraph</p></li>"
        b"<li>Three <b>bold</b></li></ul></body></html>"
    )
    text = read_html(Path("x.html"), html, ReadLimits()).text
    assert text == "Features:\n\n• One\n\n• Two, in a paragraph\n\n• Three bold"
    quote = _quote(text, "• Two")
    assert quote == text
