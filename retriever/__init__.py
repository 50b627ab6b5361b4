"""Retrieval: the store interface and the local index, the encoders, search, the quote and
the abstain decision.

Names are imported on first use (PEP 562), so that light modules such as
:mod:`retriever.settings` (the CLI's ``--help``) load nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retriever.lazy import exports

if TYPE_CHECKING:
    from retriever.answer import Answerer, Question
    from retriever.encoder import DEFAULT_MODEL, Encoder
    from retriever.errors import (
        BadArgumentError,
        BadQuestionError,
        IndexCorruptError,
        IndexMismatchError,
        IndexNotFoundError,
        VerbatimError,
    )
    from retriever.index import Index
    from retriever.manifest import CHUNK_DTYPE, DocumentRecord, Manifest
    from retriever.models import load_cross_lingual, load_encoder
    from retriever.records import Answer, Chunk, Citation, Passage, Span
    from retriever.sentence_encoder import SentenceTransformerEncoder
    from retriever.sentences import sentence_spans
    from retriever.settings import DEFAULT_K, DEFAULT_SCORING, Scoring
    from retriever.store import Space, Store
    from retriever.writer import write_generation

_HOMES = {
    "retriever.answer": ("Answerer", "Question"),
    "retriever.encoder": ("DEFAULT_MODEL", "Encoder"),
    "retriever.errors": (
        "BadArgumentError",
        "BadQuestionError",
        "IndexCorruptError",
        "IndexMismatchError",
        "IndexNotFoundError",
        "VerbatimError",
    ),
    "retriever.index": ("Index",),
    "retriever.manifest": ("CHUNK_DTYPE", "DocumentRecord", "Manifest"),
    "retriever.models": ("load_cross_lingual", "load_encoder"),
    "retriever.records": ("Answer", "Chunk", "Citation", "Passage", "Span"),
    "retriever.sentence_encoder": ("SentenceTransformerEncoder",),
    "retriever.sentences": ("sentence_spans",),
    "retriever.settings": ("DEFAULT_K", "DEFAULT_SCORING", "Scoring"),
    "retriever.store": ("Space", "Store"),
    "retriever.writer": ("write_generation",),
}

__all__ = [
    "Answer",
    "Answerer",
    "BadArgumentError",
    "BadQuestionError",
    "CHUNK_DTYPE",
    "Chunk",
    "Citation",
    "DEFAULT_K",
    "DEFAULT_MODEL",
    "DEFAULT_SCORING",
    "DocumentRecord",
    "Encoder",
    "Index",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Manifest",
    "Passage",
    "Question",
    "Scoring",
    "SentenceTransformerEncoder",
    "Space",
    "Span",
    "Store",
    "VerbatimError",
    "load_cross_lingual",
    "load_encoder",
    "sentence_spans",
    "write_generation",
]


__getattr__ = exports(__name__, _HOMES)
