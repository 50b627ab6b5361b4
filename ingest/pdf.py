"""Reading a PDF as its pages: text, page starts, headings and running headers (pypdfium2).

PDFium was chosen by measurement (``python -m eval.pdf_readers``): on the PDFs of
``eval/gold/docs/`` it reads a page in 2–3 ms against pypdf's 27–33 and pdfplumber's
123–127, finds every gold answer, joins words hyphenated at a line's end, and gives each
character's box on its page, which the viewer needs to highlight a quote.

The text is PDFium's, one character for each of its characters, so that an offset into a
page's text is the index of a character PDFium can place (:func:`char_boxes`): its line
ends ``\\r\\n`` become `` \\n``, its mark of a hyphenated line end becomes a soft hyphen
(U+00AD), other control characters spaces. Pages are joined by a blank line.

Headings come from the PDF's outline (bookmarks) where it has one, else from lines set in
a larger font than the body's. Lines that recur at the top or bottom of most pages
(running headers and footers, page numbers) are reported as debris: kept in the text, so
that offsets hold, and out of passages and quotes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ingest.extracted import ReadLimits, UnreadableDocument

__all__ = ["PdfText", "read_pdf", "char_boxes", "PAGE_GAP"]

#: What stands between two pages in the text.
PAGE_GAP = "\n\n"
_LINE = re.compile(r"[^\n]+")
_DIGITS = re.compile(r"\d+|\b[ivxlc]+\b", re.IGNORECASE)


@dataclass(frozen=True)
class PdfText:
    """A PDF's text with its pages' start offsets, headings and debris ranges."""

    text: str
    pages: tuple[int, ...]
    headings: tuple[tuple[int, int, int], ...]
    debris: tuple[tuple[int, int], ...]
    title: str


def _clean(page_text: str) -> str:
    """PDFium's page text, the same length, with its control characters made readable."""
    out = page_text.replace("\r\n", " \n").replace("\x02", "\u00ad").replace("\ufffe", "\u00ad")
    return "".join(ch if ch in "\n\u00ad" or ch >= " " else " " for ch in out)


def read_pdf(data: bytes, limits: ReadLimits) -> PdfText:
    """The text, pages, headings and running headers of the PDF ``data``.

    Raises:
        UnreadableDocument: encrypted, damaged, or its text runs past ``limits.max_chars``.
    """
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnreadableDocument("the PDF is encrypted with a password") from None
        raise
    try:
        pages: list[str] = []
        sizes: list[list[tuple[int, int, float]]] = []  # per page: (start, end, font size)
        total = 0
        for page in doc:
            textpage = page.get_textpage()
            text = _clean(textpage.get_text_range())
            pages.append(text)
            sizes.append(_line_sizes(textpage, text))
            total += len(text) + len(PAGE_GAP)
            if total > limits.max_chars:
                raise limits.too_long()
        starts, pos = [], 0
        for text in pages:
            starts.append(pos)
            pos += len(text) + len(PAGE_GAP)
        full = PAGE_GAP.join(pages)
        headings = _outline_headings(doc, pages, starts) or _font_headings(sizes, starts)
        meta = doc.get_metadata_dict().get("Title", "") or ""
    finally:
        doc.close()
    return PdfText(full, tuple(starts), tuple(headings), tuple(_running(pages, starts)), meta)


def _line_sizes(textpage: Any, text: str) -> list[tuple[int, int, float]]:
    """Each line's start, end and median font size, from PDFium's characters."""
    import pypdfium2.raw as raw

    out = []
    for m in _LINE.finditer(text):
        sizes = sorted(
            raw.FPDFText_GetFontSize(textpage, i)
            for i in range(m.start(), m.end())
            if not text[i].isspace()
        )
        if sizes:
            out.append((m.start(), m.end(), sizes[len(sizes) // 2]))
    return out


def _outline_headings(doc: Any, pages: list[str], starts: list[int]) -> list[tuple[int, int, int]]:
    """Headings from the outline: each title found on its page (spacing aside)."""
    found = []
    for mark in doc.get_toc():
        dest = mark.get_dest()
        page = dest.get_index() if dest is not None else None
        title = " ".join((mark.get_title() or "").split())
        if page is None or not title or page >= len(pages):
            continue
        pattern = r"\s*".join(re.escape(w) for w in title.split())
        m = re.search(pattern, pages[page])
        if m is None:  # "1.1. Version" in the outline, "1.1 Version" on the page
            words = title.split()
            m = (
                re.search(r"\s*".join(re.escape(w) for w in words[1:]), pages[page])
                if len(words) > 1
                else None
            )
        if m is not None:
            found.append((starts[page] + m.start(), starts[page] + m.end(), int(mark.level) + 1))
    return sorted(set(found))


def _font_headings(
    sizes: list[list[tuple[int, int, float]]], starts: list[int]
) -> list[tuple[int, int, int]]:
    """Lines in a larger font than the body's (the commonest size), larger: higher."""
    counts: Counter[float] = Counter()
    for page in sizes:
        for a, b, size in page:
            counts[round(size, 1)] += b - a
    if not counts:
        return []
    body = counts.most_common(1)[0][0]
    larger = sorted(
        {round(s, 1) for page in sizes for _, _, s in page if s > body * 1.15}, reverse=True
    )
    level = {s: min(n + 1, 6) for n, s in enumerate(larger)}
    return [
        (starts[p] + a, starts[p] + b, level[round(size, 1)])
        for p, page in enumerate(sizes)
        for a, b, size in page
        if round(size, 1) in level and b - a <= 120
    ]


def _running(pages: list[str], starts: list[int]) -> list[tuple[int, int]]:
    """The first and last lines of pages that recur (numbers aside) on most pages, and
    lines that are nothing but a page number."""
    if len(pages) < 3:
        return []
    edges: list[list[tuple[int, int, str]]] = []
    counts: Counter[str] = Counter()
    for text in pages:
        lines = [m for m in _LINE.finditer(text) if m.group().strip()]
        picked = lines[:2] + lines[-2:]
        keyed = [
            (m.start(), m.end(), _DIGITS.sub("#", " ".join(m.group().split()))) for m in picked
        ]
        edges.append(keyed)
        counts.update({key for *_, key in keyed})
    out = []
    for p, keyed in enumerate(edges):
        for a, b, key in keyed:
            number = key.strip("# ") == ""
            if number or counts[key] >= max(3, len(pages) // 2):
                line = pages[p][a:b]
                lead = len(line) - len(line.lstrip())
                out.append((starts[p] + a + lead, starts[p] + a + len(line.rstrip())))
    return sorted(set(out))


def char_boxes(
    data: bytes, page: int, start: int, end: int
) -> list[tuple[float, float, float, float]]:
    """The boxes ``(left, bottom, right, top)``, in PDF points, of the characters
    ``start..end`` of page ``page``'s text (0-based page; offsets within that page)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        textpage = doc[page].get_textpage()
        count = textpage.count_chars()
        return [textpage.get_charbox(i) for i in range(max(0, start), min(end, count))]
    finally:
        doc.close()
