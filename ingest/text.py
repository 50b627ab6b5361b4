"""Plain text and Markdown: decoding bytes of unknown encoding, and Markdown's headings.

The text is the decoded file, unchanged (a byte-order mark, UTF-8, UTF-8 with a few damaged
bytes read as U+FFFD, or the encoding charset-normalizer detects).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ingest.extracted import Extracted, ReadLimits, UnreadableDocument
from ingest.titles import title_of

__all__ = ["decode", "decode_text", "read_text"]

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
    return decode(data)[0]


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


def decode(data: bytes) -> tuple[str, tuple[str, ...]]:
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


_ATX = re.compile(r"^(#{1,6})[ \t]+(\S.*?)[ \t#]*$", re.MULTILINE)
_SETEXT = re.compile(r"^([^\n]*\S[^\n]*)\n(=+|-+)[ \t]*$", re.MULTILINE)


def markdown_headings(text: str) -> tuple[tuple[int, int, int], ...]:
    """``(start, end, level)`` of Markdown's ``#`` and underlined headings."""
    found = [(m.start(2), m.end(2), len(m.group(1))) for m in _ATX.finditer(text)]
    found += [
        (m.start(1), m.end(1), 1 if m.group(2)[0] == "=" else 2) for m in _SETEXT.finditer(text)
    ]
    return tuple(sorted(found))


def read_text(path: Path, data: bytes, limits: ReadLimits) -> Extracted:
    text, notes = decode(data)
    if path.suffix.lower() in {".md", ".markdown"}:
        headings = markdown_headings(text)
        title = title_of(path, text, headings=headings)
        return Extracted(text, title, "markdown", notes, headings=headings)
    return Extracted(text, title_of(path, text), "text", notes)
