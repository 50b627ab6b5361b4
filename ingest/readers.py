"""Reading files into text: plain text and Markdown, HTML, PDF and Word.

Each reader returns the document's text, which is what every offset in the index refers
to. For plain text and Markdown that is the decoded file, unchanged; for HTML, the visible
text with one line per block; for PDF and Word, the text of their pages or paragraphs.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Extracted", "UnreadableDocument", "SUPPORTED", "read_document", "decode_text"]


class UnreadableDocument(Exception):
    """This file cannot be turned into text; the message says why (it is skipped)."""


@dataclass(frozen=True, slots=True)
class Extracted:
    """A document's text, its title, the reader that made it, and what the reader noticed
    (such as bytes it had to replace), one line each."""

    text: str
    title: str
    format: str
    notes: tuple[str, ...] = ()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters that do not occur in text: their presence means a binary file.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def decode_text(data: bytes) -> str:
    """Decode a text file of unknown encoding.

    A byte-order mark wins; then strict UTF-8; then UTF-8 with the few damaged bytes
    replaced by U+FFFD, when the file is plainly UTF-8 otherwise; then charset-normalizer's
    best guess.

    Raises:
        UnreadableDocument: the bytes are not text (a binary file, whatever its name).

    Example:
        >>> decode_text("Grüße".encode("latin-1"))
        'Grüße'
    """
    return _decode(data)[0]


def _damaged_utf8(data: bytes) -> tuple[str, int] | None:
    """``(text, damaged places)`` if ``data`` is UTF-8 with a few invalid bytes, else None.

    Plainly UTF-8 means: more valid multi-byte characters than damaged places. Text in a
    one-byte encoding such as Latin-1 has next to no valid multi-byte sequences.
    """
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    multibyte = sum(1 for ch in text if ch > "\x7f") - text.count("\ufffd")
    return (text, bad) if 0 < bad < multibyte else None


#: When the detector cannot tell encodings apart, the most widespread of them wins.
_COMMON_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")


def _guess_encoding(data: bytes) -> str:
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        raise UnreadableDocument("binary content or an unknown encoding")
    key = (best.chaos, best.coherence)
    tied = {m.encoding: m for m in results if (m.chaos, m.coherence) == key}
    for name in _COMMON_ENCODINGS:
        if name in tied:
            return str(tied[name])
    return str(best)


def _decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    """:func:`decode_text`, and a note for each liberty taken with the bytes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), ()
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(f"invalid {encoding} after its byte-order mark") from exc
    notes: tuple[str, ...] = ()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if b"\x00" in data[:8192]:
            raise UnreadableDocument("binary content (NUL bytes), not text") from None
        damaged = _damaged_utf8(data)
        if damaged is not None:
            text, bad = damaged
            notes = (f"{bad} invalid UTF-8 byte sequences were read as U+FFFD",)
        else:
            text = _guess_encoding(data)
    sample = text[:65536]
    if sample and len(_BINARY.findall(sample)) > max(8, len(sample) // 1000):
        raise UnreadableDocument("binary content (control characters), not text")
    return text, notes


def _first_line_title(text: str, fallback: str) -> str:
    from ingest.clean import is_debris

    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if len(line) >= 3 and not is_debris(line):
            # A short first line is a heading; a long one is body text, not a title.
            return line if len(line) <= 80 else fallback
    return fallback


def _read_text(path: Path, data: bytes) -> Extracted:
    text, notes = _decode(data)
    fmt = "markdown" if path.suffix.lower() in {".md", ".markdown"} else "text"
    return Extracted(text, _first_line_title(text, path.stem), fmt, notes)


# Elements whose content is never shown, and elements that end a line.
_HIDDEN = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"}
_BLOCK = set(
    """address article aside blockquote body br dd details dialog div dl dt fieldset figcaption
    figure footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section summary
    table tbody td tfoot th thead tr ul caption""".split()
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")


def _read_html(path: Path, data: bytes) -> Extracted:
    from selectolax.lexbor import LexborHTMLParser

    html, notes = _decode(data)
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title") or tree.css_first("h1")
    root = tree.body or tree.root
    parts: list[str] = []
    if root is not None:
        # Iterative walk: hostile pages may nest deeper than Python's recursion limit.
        stack = [(root, False)]
        while stack:
            node, closing = stack.pop()
            tag = node.tag
            if closing:
                parts.append("\n")
                continue
            if tag == "-text":
                parts.append(_SPACES.sub(" ", (node.text_content or "").replace("\n", " ")))
                continue
            if tag in _HIDDEN or tag == "-comment":
                continue
            if tag in _BLOCK:
                parts.append("\n")
                stack.append((node, True))
            children = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, False) for c in reversed(children))
    lines = [line.strip() for line in "".join(parts).split("\n")]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n")
    title = title_node.text(strip=True) if title_node is not None else ""
    return Extracted(text, title or _first_line_title(text, path.stem), "html", notes)


def _read_pdf(path: Path, data: bytes) -> Extracted:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("the PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableDocument(f"not a readable PDF ({exc})") from exc
    text = "\n\n".join(p.strip("\n") for p in pages).strip()
    meta_title = ""
    try:
        meta_title = (reader.metadata.title or "") if reader.metadata else ""
    except Exception:  # metadata is optional and often malformed
        meta_title = ""
    return Extracted(text, meta_title.strip() or _first_line_title(text, path.stem), "pdf")


def _read_docx(path: Path, data: bytes) -> Extracted:
    import io
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDocument(f"not a readable Word document ({exc})") from exc
    blocks: list[str] = []
    for para in document.paragraphs:
        blocks.append(para.text)
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text for cell in row.cells))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(blocks)).strip()
    title = (document.core_properties.title or "").strip()
    return Extracted(text, title or _first_line_title(text, path.stem), "docx")


_READERS = {
    ".txt": _read_text,
    ".text": _read_text,
    ".md": _read_text,
    ".markdown": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
#: File name endings that ingest reads.
SUPPORTED = tuple(sorted(_READERS))


def read_document(path: Path, data: bytes | None = None) -> Extracted:
    """Extract the text of ``path`` (or of ``data``, its bytes, if given).

    Raises:
        UnreadableDocument: unsupported type, binary content, a damaged file, or no text.
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
    extracted = reader(path, data)
    if not extracted.text.strip():
        raise UnreadableDocument("no text could be extracted")
    return extracted
