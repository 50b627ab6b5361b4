"""Reading files into text: plain text and Markdown, HTML, PDF and Word.

Each reader returns the document's text, which is what every offset in the index refers
to, with what it learnt of the layout (pages, headings, page furniture): for plain text
and Markdown the decoded file, unchanged (:mod:`ingest.text`); for HTML the visible text,
one line per block (:mod:`ingest.html`); for PDF the text of its pages
(:mod:`ingest.pdf`); for Word its paragraphs and tables in order (:mod:`ingest.office`).
"""

from __future__ import annotations

from pathlib import Path

from ingest.extracted import DEFAULT_LIMITS, Extracted, ReadLimits, UnreadableDocument
from ingest.html import read_html
from ingest.office import read_docx
from ingest.pdf import read_pdf
from ingest.text import decode_text, read_text
from ingest.titles import title_of

__all__ = [
    "DEFAULT_LIMITS",
    "Extracted",
    "ReadLimits",
    "SUPPORTED",
    "UnreadableDocument",
    "decode_text",
    "read_document",
]


def _read_pdf(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    pdf = read_pdf(data, limits)
    title = title_of(path, pdf.text, declared=[pdf.title], headings=pdf.headings)
    return Extracted(
        pdf.text, title, "pdf", pages=pdf.pages, headings=pdf.headings, debris=pdf.debris
    )


_READERS = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_text,
    ".markdown": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": _read_pdf,
    ".docx": read_docx,
}
#: File name endings that ingest reads.
SUPPORTED = tuple(sorted(_READERS))

_FORMAT_NAMES = {read_text: "text", read_html: "HTML", _read_pdf: "PDF", read_docx: "Word"}


def read_document(
    path: Path, data: bytes | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Extracted:
    """Extract the text of ``path`` (or of ``data``, its bytes, if given).

    Whatever goes wrong inside a parser (a damaged file, a library's own limit, a file
    that needs too much memory) is an :class:`UnreadableDocument` naming the cause: one bad
    file is skipped, never the run. Time and memory are bounded where reading runs in a
    child process (:func:`ingest.sandbox.read_isolated`, which ingest uses).

    Args:
        path: the file; its suffix chooses the reader.
        data: its bytes, if already read.
        limits: how much text and unpacked data one document may yield.

    Raises:
        UnreadableDocument: unsupported type, binary content, a damaged file, no text,
            or a limit passed.
    """
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocument(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(SUPPORTED)}"
        )
    if data is None:
        data = path.read_bytes()
    if not data.strip():
        raise UnreadableDocument("the file is empty")
    try:
        extracted = reader(path, data, limits)
    except UnreadableDocument:
        raise
    except MemoryError:
        raise UnreadableDocument("reading it needs more memory than a document may use") from None
    except RecursionError:
        raise UnreadableDocument("it is nested too deeply to read") from None
    except Exception as exc:  # a parser's own error: the file is damaged or hostile
        why = " ".join(str(exc).split())[:200]
        raise UnreadableDocument(
            f"not a readable {_FORMAT_NAMES[reader]} file ({type(exc).__name__}: {why})"
        ) from exc
    if not extracted.text.strip():
        raise UnreadableDocument("no text could be extracted")
    if len(extracted.text) > limits.max_chars:
        raise limits.too_long()
    return extracted
