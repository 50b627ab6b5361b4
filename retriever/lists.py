"""Lists quoted whole: a quote that is, or introduces, an item of a list becomes the list.

A list is a run of item lines (``•``, ``*``, ``-``, ``+``, ``–`` or ``1.``/``1)``/``a)``
first), each item with the lines that continue it, blank lines between items allowed. The
line just before the first item introduces it ("The solution is to either:", "2.2
(2022-03-27)"). When the chosen quote lies in a list, or is the line that introduces one
(the line right before it, or a sentence ending in ":" a blank line before it),
the quote becomes the introduction and the items, as many as fit in Contract 1's 400
characters, always keeping the sentence that was chosen; it stops at text kept out as
debris (a running header between two pages).

Example:
    >>> text = "Do either:\\n* restart it\\n* reinstall it\\n\\nThen go on."
    >>> text[slice(*list_span(text, (0, 10), ()))]
    'Do either:\\n* restart it\\n* reinstall it'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from retriever.quote import QuoteChoice
from retriever.records import Span
from retriever.sentences import LIST_ITEM
from retriever.settings import MAX_QUOTE_CHARS

__all__ = ["list_span", "whole_list"]

#: An introducing line longer than this is a paragraph: only its last sentence is kept.
_INTRO_CHARS = 200
_LAST_SENTENCE = re.compile(r".*[.!?]\s+(?=\S)", re.S)


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    stop = text.find("\n", pos)
    return start, len(text) if stop < 0 else stop


def _is_item(text: str, line: tuple[int, int]) -> bool:
    return bool(LIST_ITEM.match(text, line[0], line[1]))


def _items(text: str, first: tuple[int, int]) -> list[tuple[int, int]]:
    """The items of the list whose first item line is ``first``: each item's span with the
    lines that continue it (indented, or plain lines right after it)."""
    items = [first]
    pos = first[1] + 1
    blank = False
    while pos < len(text):
        line = _line_at(text, pos)
        body = text[line[0] : line[1]]
        if not body.strip():
            if blank:
                break  # two blank lines end the list
            blank = True
        elif _is_item(text, line):
            items.append(line)
            blank = False
        elif not blank and (body[:1] in " \t" or not body.rstrip().endswith(":")):
            items[-1] = (items[-1][0], line[1])  # a wrapped item goes on
        else:
            break
        pos = line[1] + 1
    return items


def _lists(text: str, start: int, end: int) -> list[list[tuple[int, int]]]:
    """The lists (their items) that start in ``text[start:end]``, read line by line."""
    found = []
    pos = text.rfind("\n", 0, start) + 1
    while pos < min(end, len(text)):
        line = _line_at(text, pos)
        if _is_item(text, line):
            found.append(_items(text, line))
            pos = found[-1][-1][1] + 1
        else:
            pos = line[1] + 1
    return found


def _intro(text: str, first: tuple[int, int]) -> int | None:
    """Where the line that introduces the list starting at ``first`` begins, if one does:
    the line right before it, or a line ending in ":" a blank line before it."""
    if first[0] == 0:
        return None
    line = _line_at(text, first[0] - 1)
    if not text[line[0] : line[1]].strip() and line[0] > 0:
        line = _line_at(text, line[0] - 1)
        if not text[line[0] : line[1]].rstrip().endswith(":"):
            return None
    body = text[line[0] : line[1]]
    if not body.strip() or _is_item(text, line):
        return None
    if len(body) > _INTRO_CHARS:
        m = _LAST_SENTENCE.match(body)
        return line[0] + m.end() if m else None
    return line[0] + len(body) - len(body.lstrip())


def list_span(
    text: str, span: tuple[int, int], debris: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """The span to quote for the quote ``span`` of ``text``: the list it stands in or
    introduces (see the module), else ``span`` itself."""
    start, end = span
    reach = 2 * MAX_QUOTE_CHARS
    introduces = text[start:end].rstrip().endswith(":")
    for items in _lists(text, max(0, start - reach), end + 3):
        inside = any(a < end and start < b for a, b in items)
        gap = text[end : items[0][0]]
        breaks = gap.count("\n") if not gap.strip() else 0
        follows = breaks == 1 or (introduces and breaks == 2)
        if inside or follows:
            break
    else:
        return span
    intro = _intro(text, items[0])
    begin = min(start, intro if intro is not None else items[0][0])
    limit = min((a for a, _ in debris if a >= begin), default=len(text))
    stop = end
    for a, b in items:
        b = min(b, limit)
        if a >= limit or b - begin > MAX_QUOTE_CHARS:
            break
        stop = max(stop, b)
    stop = len(text[:stop].rstrip())
    return (begin, stop) if stop - begin <= MAX_QUOTE_CHARS and stop > end - 1 else span


def whole_list(choice: QuoteChoice, doc: tuple) -> QuoteChoice:
    """``choice`` widened to the list it stands in or introduces, in ``doc`` (the text
    first, its debris last, as the quote chooser reads documents)."""
    text, debris = doc[0], doc[-1]
    start, end = list_span(text, (choice.span.start, choice.span.end), debris)
    if (start, end) == (choice.span.start, choice.span.end):
        return choice
    return replace(choice, span=Span(start, end), text=text[start:end])
