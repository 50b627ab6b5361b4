"""Splitting document text into chunks with exact character offsets.

langchain-text-splitters does the splitting (paragraphs, then lines, then sentence ends,
then words); each chunk's offset is checked against the text it came from, so that
``text[start:end] == chunk`` always holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["SplitterSettings", "DEFAULT_SPLITTER", "split_spans"]


@dataclass(frozen=True)
class SplitterSettings:
    """How documents are cut; recorded in the manifest, a change re-embeds everything.

    Attributes:
        chunk_size: most characters per chunk (larger: more context per passage, coarser
            ranking, longer to read).
        chunk_overlap: characters shared by neighbouring chunks (larger: fewer answers cut
            in two, a bigger index).
    """

    chunk_size: int = 500
    chunk_overlap: int = 100
    separators: tuple[str, ...] = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ", "")
    splitter: str = "langchain_text_splitters.RecursiveCharacterTextSplitter"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["separators"] = list(self.separators)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitterSettings:
        return cls(**{**d, "separators": tuple(d["separators"])})


DEFAULT_SPLITTER = SplitterSettings()


@lru_cache(maxsize=8)
def _splitter(settings: SplitterSettings) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        separators=list(settings.separators),
        keep_separator="end",  # a sentence keeps its full stop
        strip_whitespace=True,
        add_start_index=True,
    )


def split_spans(
    text: str, segments: list[tuple[int, int]], settings: SplitterSettings = DEFAULT_SPLITTER
) -> list[tuple[int, int]]:
    """Chunk each quotable segment of ``text``.

    Args:
        text: the document text.
        segments: ``(start, end)`` ranges to split (text between debris).
        settings: chunk size, overlap and separators.

    Returns:
        ``(start, end)`` document offsets of every chunk, in order.
    """
    splitter = _splitter(settings)
    spans: list[tuple[int, int]] = []
    for seg_start, seg_end in segments:
        segment = text[seg_start:seg_end]
        pos = 0
        for doc in splitter.create_documents([segment]):
            chunk = doc.page_content
            start = doc.metadata.get("start_index", -1)
            if start < 0 or segment[start : start + len(chunk)] != chunk:
                # The splitter's own offset can miss when a chunk repeats; find it again.
                start = segment.find(chunk, max(0, pos - settings.chunk_size))
                if start < 0:
                    start = segment.find(chunk)
            if start < 0:  # pragma: no cover - a chunk is always a substring
                raise RuntimeError("splitter produced text not found in the document")
            spans.append((seg_start + start, seg_start + start + len(chunk)))
            pos = start
    return spans
