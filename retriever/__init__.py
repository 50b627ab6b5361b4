"""Retrieval: the index format, the encoder, search, the quote and the abstain decision."""

from retriever.answer import DEFAULT_K, DEFAULT_MIN_SCORE, Answerer
from retriever.encoder import DEFAULT_MODEL, Encoder, SentenceTransformerEncoder, load_encoder
from retriever.errors import (
    BadArgumentError,
    BadQuestionError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    VerbatimError,
)
from retriever.index import CHUNK_DTYPE, DocumentRecord, Index, Manifest, write_generation
from retriever.records import Answer, Chunk, Citation, Passage, Span
from retriever.sentences import sentence_spans

__all__ = [
    "Answer",
    "Answerer",
    "BadArgumentError",
    "BadQuestionError",
    "CHUNK_DTYPE",
    "Chunk",
    "Citation",
    "DEFAULT_K",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_MODEL",
    "DocumentRecord",
    "Encoder",
    "Index",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Manifest",
    "Passage",
    "SentenceTransformerEncoder",
    "Span",
    "VerbatimError",
    "load_encoder",
    "sentence_spans",
    "write_generation",
]
