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

__all__ = [
    "DEFAULT_LIMITS",
    "Extracted",
    "ReadLimits",
    "SUPPORTED",
    "UnreadableDocument",
    "decode_text",
    "read_document",
]


class UnreadableDocument(Exception):
    """This file cannot be turned into text; the message says why (it is skipped)."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """What reading one document may cost; a document past a limit is skipped, saying which.

    Attributes:
        max_chars: most characters of extracted text per document (``--max-chars``). Text
            is what gets embedded: 5 million characters are about 10,000 passages, some
            20 minutes of embedding on two cores (larger: bigger documents, longer updates).
        max_member_bytes: largest uncompressed part of a Word file (its XML); a zip bomb
            declares gigabytes here.
        max_unpacked_bytes: most uncompressed bytes of all parts of a Word file together.
        seconds: wall-clock time for reading one file, parsing included (``--read-timeout``;
            enforced where reading runs in a child process, see :mod:`ingest.sandbox`).
        memory_bytes: address space of that child process (a parser that needs more is
            stopped, not the machine).
    """

    max_chars: int = 5_000_000
    max_member_bytes: int = 128 << 20
    max_unpacked_bytes: int = 512 << 20
    seconds: float = 120.0
    memory_bytes: int = 3 << 30

    def too_long(self) -> UnreadableDocument:
        """The error for a document whose text runs past ``max_chars``."""
        return UnreadableDocument(
            f"its text runs past {self.max_chars:,} characters, the limit per document "
            "(raise it with --max-chars)"
        )


DEFAULT_LIMITS = ReadLimits()


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


def _read_text(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
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
# Lines are stripped before this runs, so a run of blank lines is a run of newlines; a
# pattern of nested \s* here would backtrack for minutes on a page of 100,000 empty blocks.
_BLANKS = re.compile(r"\n{3,}")


def _read_html(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
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


def _read_pdf(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableDocument("the PDF is encrypted with a password")
    pages: list[str] = []
    total = 0
    for page in reader.pages:  # page by page: a long PDF stops at the limit
        pages.append(page.extract_text() or "")
        total += len(pages[-1])
        if total > limits.max_chars:
            raise limits.too_long()
    text = "\n\n".join(p.strip("\n") for p in pages).strip()
    meta_title = ""
    try:
        meta_title = (reader.metadata.title or "") if reader.metadata else ""
    except Exception:  # metadata is optional and often malformed
        meta_title = ""
    return Extracted(text, meta_title.strip() or _first_line_title(text, path.stem), "pdf")


def _check_unpacked_sizes(data: bytes, limits: ReadLimits) -> None:
    """Refuse a zip whose parts would unpack past the limits, before any part is read.

    The sizes come from the zip's directory; :mod:`zipfile` never returns more bytes than
    a part declares, so a part that lies about its size cannot unpack past it either.
    """
    import io
    import zipfile

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


def _read_docx(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    import io

    import docx

    _check_unpacked_sizes(data, limits)
    document = docx.Document(io.BytesIO(data))
    blocks: list[str] = []
    total = 0

    def add(block: str) -> None:
        nonlocal total
        blocks.append(block)
        total += len(block) + 1
        if total > limits.max_chars:
            raise limits.too_long()

    for para in document.paragraphs:
        add(para.text)
    for table in document.tables:
        for row in table.rows:
            add(" | ".join(cell.text for cell in row.cells))
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


_FORMAT_NAMES = {_read_text: "text", _read_html: "HTML", _read_pdf: "PDF", _read_docx: "Word"}


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
