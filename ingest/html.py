"""HTML: the visible text, one line per block, and the headings it stands under.

Scripts, styles and other hidden elements are left out; a block element (paragraph, list
item, heading, table cell…) ends a line, a list item is marked ``• ``; runs of spaces
collapse. Headings (``h1``–``h6``) are recorded with their offsets in the text, for
sections in citations.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.extracted import Extracted, ReadLimits
from ingest.text import decode
from ingest.titles import title_of

__all__ = ["read_html"]

# Elements whose content is never shown, and elements that end a line.
_HIDDEN = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"}
_BLOCK = set(
    """address article aside blockquote body br dd details dialog div dl dt fieldset figcaption
    figure footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section summary
    table tbody td tfoot th thead tr ul caption""".split()
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Marks around a heading's text during the walk (characters no page holds), removed after.
_OPEN, _CLOSE, _ITEM = "\ue000", "\ue001", "\ue002"
_MARK = re.compile(f"{_OPEN}([1-6])|{_CLOSE}")
# Lines are stripped before this runs, so a run of blank lines is a run of newlines; a
# pattern of nested \s* here would backtrack for minutes on a page of 100,000 empty blocks.
_BLANKS = re.compile(r"\n{3,}")


def read_html(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    from selectolax.lexbor import LexborHTMLParser

    html, notes = decode(data)
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title") or tree.css_first("h1")
    root = tree.body or tree.root
    parts: list[str] = []
    if root is not None:
        # Iterative walk: hostile pages may nest deeper than Python's recursion limit.
        stack: list[tuple] = [(root, False)]
        while stack:
            node, closing, *heading = stack.pop()
            tag = node.tag
            if closing:
                parts.append(f"{_CLOSE}\n" if heading else "\n")
                continue
            if tag == "-text":
                parts.append(_SPACES.sub(" ", (node.text_content or "").replace("\n", " ")))
                continue
            if tag in _HIDDEN or tag == "-comment":
                continue
            if tag in _BLOCK:
                level = _HEADINGS.get(tag)
                parts.append(f"\n{_OPEN}{level}" if level else "\n")
                if tag == "li":
                    parts.append(_ITEM)
                stack.append((node, True, level) if level else (node, True))
            children = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, False) for c in reversed(children))
    lines = _bulleted([line.strip() for line in "".join(parts).split("\n")])
    text, headings = _headings(_BLANKS.sub("\n\n", "\n".join(lines)).strip("\n"))
    title = title_node.text(strip=True) if title_node is not None else ""
    return Extracted(
        text, title_of(path, text, declared=[title], headings=headings), "html", notes,
        headings=headings,
    )  # fmt: skip


def _bulleted(lines: list[str]) -> list[str]:
    """The lines with each list item's first line marked ``• `` (as Word lists are), even
    when the item's text starts in a block inside it."""
    out, pending = [], False
    for line in lines:
        if line.startswith(_ITEM):
            line, pending = line.lstrip(_ITEM).strip(), True
        if pending and line and not line.startswith(_ITEM):
            line, pending = f"• {line}", False
        out.append(line)
    return out


def _headings(marked: str) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """The text without the heading marks the walk put in, and the headings' places."""
    out: list[str] = []
    found = []
    pos = length = 0
    opened: tuple[int, int, int] | None = None  # (offset, level, index in out)
    for m in _MARK.finditer(marked):
        out.append(marked[pos : m.start()])
        length += m.start() - pos
        pos = m.end()
        if m.group(1):  # an opening mark and its level
            opened = (length, int(m.group(1)), len(out))
        elif opened is not None:
            start, level, first = opened
            piece = "".join(out[first:])
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                found.append((start + lead, start + len(piece.rstrip()), level))
            opened = None
    out.append(marked[pos:])
    return "".join(out), tuple(found)
