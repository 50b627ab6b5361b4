"""Finding scraping debris: widget labels, navigation and other text that answers nothing.

Debris is not deleted (every offset must keep pointing into the extracted text); its
character ranges are recorded and kept out of chunks, passages and quotes. The rules are
generic: short lines made of web-page furniture, or with no letters at all.
"""

from __future__ import annotations

import re

__all__ = ["debris_spans", "is_debris", "quotable_segments"]

# Labels that web pages and their icon sets leak into scraped text.
_FURNITURE = re.compile(
    r"created with sketch|close (search )?dialog|^\W*popular pages\b|\bpopular pages\W*$|"
    r"skip to (main )?content|accept (all )?cookies|cookie (policy|settings|preferences)|"
    r"^\W*(advertisement|back to top|menu|search|share|print|log ?in|sign ?in|sign ?up|"
    r"subscribe|read more|next|previous|close|toggle navigation)\W*$|"
    r"all rights reserved|^\W*share (this|on)\b|^\W*follow us\b",
    re.IGNORECASE,
)
_HAS_LETTER = re.compile(r"[^\W\d_]")
_MAX_DEBRIS_LINE = 120
_LINE = re.compile(r"[^\n]*")


def is_debris(line: str) -> bool:
    """True when one line of text is page furniture (see the module docstring)."""
    line = line.strip()
    return (
        bool(line)
        and len(line) <= _MAX_DEBRIS_LINE
        and bool(_FURNITURE.search(line) or not _HAS_LETTER.search(line))
    )


def debris_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the lines of ``text`` that are page furniture.

    Example:
        >>> t = "Close Search Dialog\\nThe siege ended.\\nPopular pages: History"
        >>> [t[a:b] for a, b in debris_spans(t)]
        ['Close Search Dialog', 'Popular pages: History']
    """
    spans = []
    for m in _LINE.finditer(text):
        line = m.group().strip()
        if is_debris(line):
            lead = len(m.group()) - len(m.group().lstrip())
            spans.append((m.start() + lead, m.start() + lead + len(line)))
    return spans


def quotable_segments(text: str, excluded: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges of ``text`` between excluded spans that hold any non-space text."""
    segments = []
    pos = 0
    for a, b in sorted(excluded) + [(len(text), len(text))]:
        if a > pos and text[pos:a].strip():
            segments.append((pos, a))
        pos = max(pos, b)
    return segments
