"""The PDF itself in the viewer: a page rendered on the server, the quote's own characters
highlighted on it and scrolled into view; the text view a click away.

``/pdf/FILE?start=&end=`` shows the page where the span starts (``&page=N`` another one);
``/pdf-page/FILE/N.png`` is that page as an image (PDFium renders it). The highlight boxes
are the characters' boxes on the page (the text's offsets are PDFium's character indices,
see :mod:`ingest.pdf`), placed over the image in percentages, so that they stay in place
at any width. Only a PDF the index holds is shown, read from where it was indexed and only
while its bytes still match the index's sha256; otherwise the link falls back to the text.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ui.pages import STYLE, doc_href

if TYPE_CHECKING:
    from fastapi import FastAPI

    from retriever.manifest import DocumentRecord
    from ui.library import Library

__all__ = ["pdf_routes", "pdf_href", "pdf_bytes"]

#: Pixels per PDF point of a rendered page (2: crisp on high-density screens).
SCALE = 2.0
_CACHE_PAGES = 32
_cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_lock = threading.Lock()


def pdf_href(source: str, start: int | None, end: int | None, base: str = "") -> str:
    """The PDF viewer's address for a span of ``source``."""
    href = f"{base}/pdf/{quote(source, safe='/')}"
    if start is not None and end is not None:
        href += f"?start={start}&end={end}#hl"
    return href


def pdf_bytes(record: DocumentRecord) -> bytes | None:
    """The PDF a record was indexed from, if it is still there with the same bytes."""
    if record.format != "pdf" or not record.origin:
        return None
    try:
        data = Path(record.origin).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == record.sha256 else None


def _render(record: DocumentRecord, data: bytes, page: int) -> bytes:
    """Page ``page`` (0-based) as PNG, remembered for the next request."""
    key = (record.sha256, page)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        image = doc[page].render(scale=SCALE).to_pil()
    finally:
        doc.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    png = buf.getvalue()
    with _lock:
        _cache[key] = png
        while len(_cache) > _CACHE_PAGES:
            _cache.popitem(last=False)
    return png


def _boxes(
    data: bytes, page: int, start: int, end: int
) -> tuple[list[tuple[float, ...]], float, float]:
    """The highlight's boxes on page ``page`` as percentages (left, top, width, height) of
    the page, and the page's size in points."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        pdf_page = doc[page]
        width, height = pdf_page.get_size()
        textpage = pdf_page.get_textpage()
        count = textpage.count_chars()
        rects = []
        for i in range(max(0, start), min(end, count)):
            left, bottom, right, top = textpage.get_charbox(i)
            if right > left and top > bottom:
                rects.append((left, bottom, right, top))
    finally:
        doc.close()
    merged: list[list[float]] = []
    for left, bottom, right, top in rects:  # one box per line of characters
        last = merged[-1] if merged else None
        if last and abs(last[1] - bottom) < 2 and left - last[2] < 12:
            last[2], last[3] = max(last[2], right), max(last[3], top)
            last[1] = min(last[1], bottom)
        else:
            merged.append([left, bottom, right, top])
    return (
        [
            (100 * x0 / width, 100 * (height - y1) / height, 100 * (x1 - x0) / width,
             100 * (y1 - y0) / height)
            for x0, y0, x1, y1 in merged
        ],
        width,
        height,
    )  # fmt: skip


_PDF_STYLE = """
.sheet{position:relative;margin:1em auto;max-width:60em;box-shadow:0 1px 4px #0003;
  background:#fff}
.sheet img{display:block;width:100%;height:auto}
.hl{position:absolute;background:rgba(255,213,0,.42);outline:2px solid #c99a00;
  border-radius:2px;scroll-margin-top:40vh}
nav.pages{display:flex;gap:1em;justify-content:center;align-items:center;margin:.8em}
nav.pages a{color:var(--accent);text-decoration:none}
"""


def pdf_page_html(
    record: DocumentRecord, data: bytes, page: int, start: int | None, end: int | None
) -> str:
    """The viewer page for page ``page`` (0-based) of ``record``, with a span marked."""
    pages = len(record.pages)
    boxes: list[tuple[float, ...]] = []
    if start is not None and end is not None:
        first = record.pages[page]
        last = record.pages[page + 1] if page + 1 < pages else record.n_chars
        lo, hi = max(start, first), min(end, last)
        if lo < hi:
            boxes = _boxes(data, page, lo - first, hi - first)[0]
    marks = "".join(
        f'<div class="hl"{" id=hl" if n == 0 else ""} style="left:{x:.2f}%;top:{y:.2f}%;'
        f'width:{w:.2f}%;height:{h:.2f}%"></div>'
        for n, (x, y, w, h) in enumerate(boxes)
    )
    span = f"start={start}&end={end}&" if start is not None and end is not None else ""
    src = quote(record.source, safe="/")

    def link(n: int, label: str) -> str:
        if not 0 <= n < pages:
            return f"<span>{label}</span>"
        return f'<a href="/pdf/{src}?{span}page={n + 1}">{label}</a>'

    text_view = escape(doc_href(record.source, start, end), quote=True)
    script = (
        "<script>document.getElementById('hl').scrollIntoView({block:'center'})</script>"
        if boxes
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(record.title)} — p. {page + 1} — Verbatim</title>"
        f"<style>{STYLE}{_PDF_STYLE}</style></head><body>"
        f'<header><h1>{escape(record.title)}</h1><span class="meta"><code>'
        f"{escape(record.source)}</code> · page {page + 1} of {pages}</span>"
        f'<a href="{text_view}">Text view</a><a href="/">← Ask Verbatim</a></header>'
        f'<nav class="pages" aria-label="Pages">{link(page - 1, "← Previous page")}'
        f"<span>page {page + 1} of {pages}</span>{link(page + 1, 'Next page →')}</nav>"
        f'<main class="sheet" style="padding:0;max-width:60em">'
        f'<img src="/pdf-page/{src}/{page + 1}.png" alt="Page {page + 1} of '
        f'{escape(record.title, quote=True)}">{marks}</main>{script}</body></html>'
    )


def _page_param(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


def pdf_routes(app: FastAPI, library: Library) -> None:
    """Add the PDF viewer's two routes to ``app``."""
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    def found(source: str) -> tuple[Any, bytes] | None:
        try:
            record = library.answerer.index.document(source)
        except KeyError:
            return None
        data = pdf_bytes(record)
        return (record, data) if data is not None and record.pages else None

    @app.get("/pdf/{source:path}", response_class=HTMLResponse)
    def view_pdf(source: str, start: str | None = None, end: str | None = None,
                 page: str | None = None):  # fmt: skip
        hit = found(source)
        lo, hi = _page_param(start), _page_param(end)
        if hit is None:  # not a PDF we can show: the text view, same span
            return RedirectResponse(doc_href(source, lo, hi))
        record, data = hit
        if lo is None or hi is None or not 0 <= lo < hi <= record.n_chars:
            lo = hi = None
        number = _page_param(page)
        if number is not None and 1 <= number <= len(record.pages):
            index = number - 1
        else:
            index = record.page_of(lo) - 1 if lo is not None else 0
        return HTMLResponse(pdf_page_html(record, data, index, lo, hi))

    @app.get("/pdf-page/{source:path}/{number}.png")
    def pdf_image(source: str, number: int) -> Response:
        hit = found(source)
        if hit is None or not 1 <= number <= len(hit[0].pages):
            return Response(status_code=404)
        record, data = hit
        return Response(_render(record, data, number - 1), media_type="image/png")
