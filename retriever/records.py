"""Typed records that travel between ingest, the retriever and the faces.

All offsets are character offsets into a document's extracted text (``Document.text``),
half-open: ``text[start:end]``. JSON happens only at the edges (:meth:`Answer.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Span", "Chunk", "Citation", "Passage", "Answer", "NOT_FOUND", "location", "place"]

#: What every face says when the documents do not answer.
NOT_FOUND = "Not found in the documents."


def location(start: int, end: int) -> str:
    """A human location for a character range: ``chars 1,234–1,340``."""
    return f"chars {start:,}–{end:,}"


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` of a document's text."""

    start: int
    end: int

    def to_dict(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document as it is embedded and searched.

    Attributes:
        source: the document's path relative to the ingested folder.
        start: offset of the chunk's first character in the document text.
        end: offset one past its last character; ``doc_text[start:end] == text``.
        text: the chunk's text.
    """

    source: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a quote stands: ``document_text(source)[start:end] == quote``.

    ``page`` (1-based, where the quote starts in a PDF) and ``section`` (the heading it
    stands under) are there when the document has them; the offsets stay the truth.
    """

    source: str
    title: str
    start: int
    end: int
    page: int | None = None
    section: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
        }
        return _with_place(d, self.page, self.section)


def _with_place(d: dict[str, Any], page: int | None, section: str | None) -> dict[str, Any]:
    if page is not None:
        d["page"] = page
    if section is not None:
        d["section"] = section
    return d


def place(page: int | None, section: str | None, start: int, end: int) -> str:
    """How a person finds a span: ``p. 4 · § Installation``, or ``chars 1,234–1,340``
    when the document has neither pages nor headings."""
    parts = ([f"p. {page}"] if page is not None else []) + ([f"§ {section}"] if section else [])
    return " · ".join(parts) if parts else location(start, end)


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk, ranked, with the quoted sentences inside it if any.

    ``highlight`` holds document offsets (not passage offsets) of the part of this passage
    that the answer quotes, or ``None`` when the quote stands elsewhere. ``page`` and
    ``section`` are where the passage starts, when the document has them.
    """

    rank: int
    source: str
    title: str
    start: int
    end: int
    score: float
    text: str
    highlight: Span | None = None
    page: int | None = None
    section: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "rank": self.rank,
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 4),
            "text": self.text,
            "highlight": self.highlight.to_dict() if self.highlight else None,
        }
        return _with_place(d, self.page, self.section)


@dataclass(frozen=True, slots=True)
class Answer:
    """What Verbatim says to a question (Contract 1 of DESIGN.md).

    ``answered`` is False when the documents hold no answer; ``quote`` and ``citation``
    are then None and ``passages`` still lists the closest matches.

    ``quote_score`` is how close the best quote came to the question in meaning, answered
    or not: the signal that ``min_score`` is compared with (None when the passages held no
    sentence). It stays out of :meth:`to_dict`, which is Contract 1 exactly; batch runs
    record it beside each response, so that any threshold can be scored from one run.
    """

    question: str
    answered: bool
    quote: str | None
    citation: Citation | None
    passages: tuple[Passage, ...]
    timing_ms: dict[str, float] = field(default_factory=dict)
    quote_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "quote": self.quote,
            "citation": self.citation.to_dict() if self.citation else None,
            "passages": [p.to_dict() for p in self.passages],
            "timing_ms": {k: round(v, 2) for k, v in self.timing_ms.items()},
        }
