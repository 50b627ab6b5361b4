"""A document's real title: what the document says it is called, never junk.

In order: the title the format declares (HTML ``<title>``, a PDF's metadata, a Word file's
core properties) unless it is junk (``about:blank``, ``Untitled``, ``Microsoft Word -
notes.doc``, a file name); else the first heading; else the first line when it looks like
a title (short, no full stop, not a copyright line); else the file name without its suffix.

Example:
    >>> title_of(Path("notes.pdf"), "Copyright 2024 Ann\\nbody", declared=("about:blank",))
    'notes'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["title_of", "is_junk_title"]

_JUNK = re.compile(
    r"^(about:blank|untitled( document)?|document\d*|title|no title|new document|"
    r"microsoft (word|powerpoint|excel) - .*|.*\.(docx?|pdf|tex|dvi|txt|html?|md|odt|rtf|ps))$",
    re.IGNORECASE,
)
_NOT_A_TITLE = re.compile(r"^(copyright\b|\(c\)|©|all rights reserved|https?://|www\.)", re.I)
_HAS_LETTER = re.compile(r"[^\W\d_]")


def is_junk_title(value: str) -> bool:
    """True for a declared title that names nothing: empty, a placeholder, a file name."""
    value = " ".join(value.split())
    return (
        not value or len(value) > 150 or bool(_JUNK.match(value)) or not _HAS_LETTER.search(value)
    )


def _title_like(line: str) -> bool:
    return (
        3 <= len(line) <= 80
        and not line.endswith((".", ",", ";", ":"))
        and not _NOT_A_TITLE.match(line)
        and not line[0].islower()
        and bool(_HAS_LETTER.search(line))
    )


def title_of(
    path: Path,
    text: str,
    *,
    declared: Iterable[str] = (),
    headings: Iterable[tuple[int, int, int]] = (),
) -> str:
    """The title of the document ``path`` whose extracted text is ``text``.

    Args:
        path: the file (its name is the last resort).
        text: its extracted text.
        declared: titles the format declares, best first (each checked for junk).
        headings: ``(start, end, level)`` of its headings; the first one counts.
    """
    from ingest.clean import is_debris

    for value in declared:
        value = " ".join((value or "").split())
        if not is_junk_title(value):
            return value
    for start, end, _level in headings:
        heading = " ".join(text[start:end].split()).strip("#").strip()
        if heading and not is_debris(heading) and len(heading) <= 120:
            return heading
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if len(line) >= 3 and not is_debris(line):
            return line if _title_like(line) else path.stem
    return path.stem
