"""Word (.docx): paragraphs and tables in their order, headings, list items, the title.

The text is the body read in order: a paragraph a line, blank lines between paragraphs (a
list's items stay on consecutive lines, each marked ``•``), a table a row per line with
its cells joined by `` | ``. Paragraphs styled as headings (``Heading 1``…, ``Title``) are
recorded as headings. Before anything is unpacked, the zip's declared sizes are checked
against the limits (a zip bomb declares gigabytes).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from ingest.extracted import Extracted, ReadLimits, UnreadableDocument
from ingest.titles import title_of

__all__ = ["read_docx", "check_unpacked_sizes"]

_HEADING_STYLE = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"^list\b", re.IGNORECASE)


def check_unpacked_sizes(data: bytes, limits: ReadLimits) -> None:
    """Refuse a zip whose parts would unpack past the limits, before any part is read.

    The sizes come from the zip's directory; :mod:`zipfile` never returns more bytes than
    a part declares, so a part that lies about its size cannot unpack past it either.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnreadableDocument(f"not a readable Word document ({exc})") from exc
    total = 0
    for m in members:
        total += m.file_size
        if m.file_size > limits.max_member_bytes or total > limits.max_unpacked_bytes:
            big = max(members, key=lambda x: x.file_size)
            raise UnreadableDocument(
                f"it unpacks to {sum(x.file_size for x in members) / 1048576:,.0f} MB "
                f"({big.filename}: {big.file_size / 1048576:,.0f} MB), more than a Word "
                f"document may ({limits.max_member_bytes >> 20} MB a part, "
                f"{limits.max_unpacked_bytes >> 20} MB in all)"
            )


def _blocks(document: Any) -> list[tuple[str, str, int]]:
    """``(kind, text, heading level)`` of the body's paragraphs and table rows, in order;
    kind is ``p``, ``li`` or ``row``."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[tuple[str, str, int]] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(element, document)
            style = (para.style.name if para.style is not None else "") or ""
            heading = _HEADING_STYLE.match(style)
            level = int(heading.group(1) or 1) if heading else 0
            numbered = element.pPr is not None and element.pPr.numPr is not None
            kind = "li" if (_LIST_STYLE.match(style) or numbered) and not level else "p"
            out.append((kind, para.text, level))
        elif tag == "tbl":
            for row in Table(element, document).rows:
                out.append(("row", " | ".join(cell.text for cell in row.cells), 0))
    return out


def read_docx(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    import docx

    check_unpacked_sizes(data, limits)
    document = docx.Document(io.BytesIO(data))
    parts: list[str] = []
    headings = []
    length = 0
    previous = ""
    for kind, text, level in _blocks(document):
        if not text.strip():
            continue
        joiner = "\n" if kind == previous and kind in ("li", "row") else "\n\n"
        line = f"• {text}" if kind == "li" else text
        if parts:
            parts.append(joiner)
            length += len(joiner)
        if level:
            headings.append((length, length + len(line), level))
        parts.append(line)
        length += len(line)
        previous = kind
        if length > limits.max_chars:
            raise limits.too_long()
    text = "".join(parts)
    declared = [document.core_properties.title or ""]
    title = title_of(path, text, declared=declared, headings=headings)
    return Extracted(text, title, "docx", headings=tuple(headings))
