"""What reading a document gives, what it may cost, and the error when it cannot be read."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Extracted", "ReadLimits", "UnreadableDocument"]


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
    """A document's text and what the reader learnt of its layout.

    Attributes:
        text: the text every offset of the index refers to.
        title: a human title (see :func:`ingest.titles.title_of`).
        format: the reader that made it (``text``, ``markdown``, ``html``, ``pdf``, ``docx``).
        notes: what the reader noticed (bytes it had to replace), one line each.
        pages: where each page starts in ``text`` (PDF; empty for formats without pages).
        headings: ``(start, end, level)`` of each heading in ``text``, in order (level 1 is
            the highest); the section of an offset is the last heading before it.
        debris: ``(start, end)`` ranges the reader knows are page furniture (a PDF's
            running headers and page numbers), kept out of passages and quotes.
    """

    text: str
    title: str
    format: str
    notes: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    headings: tuple[tuple[int, int, int], ...] = ()
    debris: tuple[tuple[int, int], ...] = ()
