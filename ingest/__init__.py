"""Ingest: reading, cleaning, splitting and embedding documents into an index."""

from ingest.clean import debris_spans, quotable_segments
from ingest.pipeline import BadPathError, IngestReport, collect_files, detect_language, ingest
from ingest.readers import SUPPORTED, Extracted, UnreadableDocument, decode_text, read_document
from ingest.split import DEFAULT_SPLITTER, SplitterSettings, split_spans

__all__ = [
    "BadPathError",
    "DEFAULT_SPLITTER",
    "Extracted",
    "IngestReport",
    "SUPPORTED",
    "SplitterSettings",
    "UnreadableDocument",
    "collect_files",
    "debris_spans",
    "decode_text",
    "detect_language",
    "ingest",
    "quotable_segments",
    "read_document",
    "split_spans",
]
